"""The state store's read caches: used only while nothing was written, by any process.

"Another process" is a real one: a Python child writing through its own StateStore,
or the `lab` CLI, to the same database file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.access.users import Role, UserStore
from lab.classes.records import ClassRecord
from lab.errors import NotFoundError
from lab.labs.plan import plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile import load_profile
from lab.store.state import StateStore, now

PROFILES = Path(__file__).parents[2] / "profiles"
ROOT = Path(__file__).parents[2]


def _lab(name: str) -> LabRecord:
    stamp = now()
    return LabRecord(
        name=name,
        profile="tiny",
        profile_path="profiles/tiny.yaml",
        status=LabStatus.RUNNING,
        plan=plan_lab(
            load_profile(PROFILES / "tiny.yaml"),
            name,
            "hl-",
            Path("/nonexistent"),
            IPv4Network("10.250.0.0/24"),
        ),
        created_at=stamp,
        updated_at=stamp,
    )


def _elsewhere(db: Path, code: str, stdin: str = "") -> None:
    """Run `code` in another Python process, with `store` a StateStore of `db`."""
    prelude = (
        "import sys\nfrom pathlib import Path\nfrom lab.store.state import *\n"
        "from lab.access.users import *\n"
        f"store = StateStore(Path({str(db)!r}))\n"
    )
    subprocess.run(
        [sys.executable, "-c", prelude + code], input=stdin, text=True, check=True, cwd=ROOT
    )


def test_labs_written_by_another_process_are_read_at_once(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = StateStore(db)
    store.add_lab(_lab("a"))
    assert [lab.name for lab in store.list_labs()] == ["a"]  # cached now
    assert store.current_labs() is not None

    _elsewhere(
        db,
        "store.add_lab(LabRecord.model_validate_json(sys.stdin.read()))",
        _lab("b").model_dump_json(),
    )
    assert store.current_labs() is None  # the counter moved
    assert [lab.name for lab in store.list_labs()] == ["a", "b"]
    assert store.get_lab("b").status is LabStatus.RUNNING

    code = "store.update_lab(store.get_lab('b').model_copy(update={'status': 'stopped'}))"
    _elsewhere(db, code)
    assert store.get_lab("b").status is LabStatus.STOPPED
    assert [lab.status for lab in store.list_labs()] == [LabStatus.RUNNING, LabStatus.STOPPED]

    _elsewhere(db, "store.delete_lab('a')")
    assert [lab.name for lab in store.list_labs()] == ["b"]
    with pytest.raises(NotFoundError):
        store.get_lab("a")


def test_unchanged_labs_are_not_read_again(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.add_lab(_lab("a"))
    first = store.list_labs()
    other = StateStore(tmp_path / "state.db")  # as the API's use cases open it, per call
    assert other.list_labs()[0] is first[0]
    UserStore(store).add("olena", Role.ADMIN)  # a write elsewhere than to the labs
    assert store.current_labs() is not None
    assert store.get_lab("a") is first[0]


def test_a_database_made_anew_is_not_mistaken_for_the_old_one(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = StateStore(db)
    store.add_lab(_lab("old"))
    assert [lab.name for lab in store.list_labs()] == ["old"]
    for path in tmp_path.glob("state.db*"):
        path.unlink()
    _elsewhere(
        db,
        "store.add_lab(LabRecord.model_validate_json(sys.stdin.read()))",
        _lab("new").model_dump_json(),
    )
    assert [lab.name for lab in StateStore(db).list_labs()] == ["new"]
    assert [lab.name for lab in store.list_labs()] == ["new"]


def test_classes_written_by_another_process_are_read_at_once(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = StateStore(db)
    assert store.list_classes() == []
    klass = ClassRecord(
        name="c1", profile="tiny", profile_path="p", seats=("c1-01",), created_at=now()
    )
    _elsewhere(
        db,
        "store.add_class(ClassRecord.model_validate_json(sys.stdin.read()))",
        klass.model_dump_json(),
    )
    assert store.get_class("c1").seats == ("c1-01",)
    _elsewhere(db, "store.delete_class('c1')")
    with pytest.raises(NotFoundError):
        store.get_class("c1")


def test_a_token_revoked_by_the_cli_is_refused_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    users = UserStore(StateStore(home / "state.db"))
    users.add("olena", Role.TRAINER)
    token = users.create_token("olena")
    assert users.authenticate(token) is not None  # remembered now
    tokens = users.tokens_now()
    assert tokens is not None and len(tokens) == 1

    env = {**os.environ, "LAB_HOME": str(home)}
    lab = [sys.executable, "-m", "lab.cli"]
    subprocess.run([*lab, "token", "revoke", "olena"], env=env, check=True, cwd=ROOT)
    assert users.tokens_now() is None
    assert users.authenticate(token) is None


def test_an_assignment_made_by_another_process_counts_at_once(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    users = UserStore(StateStore(db))
    users.add("petro", Role.TRAINEE)
    token = users.create_token("petro")
    before = users.authenticate(token)
    assert before is not None and before.labs == frozenset()
    _elsewhere(db, "UserStore(store).assign('petro', AssignmentKind.LAB, 's-01')")
    after = users.authenticate(token)
    assert after is not None and after.labs == frozenset({"s-01"})


def test_a_nested_transaction_gets_its_own_connection(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    with store.transaction() as outer:
        outer.execute("BEGIN IMMEDIATE")
        outer.execute(
            "INSERT INTO classes (name, record) VALUES ('x', ?)",
            (
                ClassRecord(
                    name="x", profile="t", profile_path="p", seats=(), created_at=now()
                ).model_dump_json(),
            ),
        )
        # another store use inside: not the outer connection (whose work is not done)
        assert store.find_lab("nope") is None
        assert outer.in_transaction
    assert [k.name for k in store.list_classes()] == ["x"]
