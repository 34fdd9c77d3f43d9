"""`lab operation list / show`: the operations store as a terminal reads it, the same
operations and fields as `GET /api/v1/operations` gives staff (its JSON side is in
tests/unit/test_cli_json.py)."""

from __future__ import annotations

import uuid

import pytest

from lab.errors import InvalidError
from lab.operations.store import OperationStore, OpStatus
from lab.settings import Settings
from tests.api.conftest import PROFILES
from tests.cli_runs import run_lab


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        home=tmp_path_factory.mktemp("ops") / "home",
        libvirt_uri="test:///default",
        profiles_dir=PROFILES,
        prefix="hlt-",
    )


def test_no_operations_yet(settings: Settings) -> None:
    done = run_lab(settings, "operation", "list")
    assert done.returncode == 0, done.stderr
    assert "no operations yet" in done.stdout


def test_a_failed_operation_shows_its_progress_error_and_hint(settings: Settings) -> None:
    store = OperationStore.open(settings)
    op = store.create("reset", "lab/ops1", "cli:olena")
    store.start(op.id)
    store.add_event(op.id, "srv", "memory state restored")
    store.add_event(op.id, "srv", "[bold]not markup[/]")
    store.finish(op.id, OpStatus.FAILED, error="srv did not answer", hint="look at its console")
    ok = store.create("up", "lab/ops2", "admin")

    listed = run_lab(settings, "operation", "list", COLUMNS="160")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "kind", "target", "status", "by", "started", "latest"]
    newest_first = [line.split()[0] for line in lines[1:]]
    assert newest_first == [ok.id[:12], op.id[:12]]
    assert lines[2].split()[1:5] == ["reset", "lab/ops1", "failed", "cli:olena"]
    assert lines[2].endswith("srv did not answer")
    narrow = run_lab(settings, "operation", "list", COLUMNS="80").stdout.splitlines()
    assert len(narrow) == 3 and all(len(line) <= 80 for line in narrow)  # a line each

    shown = run_lab(settings, "operation", "show", op.id[:12])
    assert run_lab(settings, "operation", "show", op.id).stdout == shown.stdout
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"operation: {op.id}" in text and "target:    lab/ops1" in text
    assert "status:    failed" in text and "by:        cli:olena" in text
    assert "error:     srv did not answer" in text and "hint:      look at its console" in text
    assert "srv: memory state restored" in text
    assert "srv: [bold]not markup[/]" in text  # a guest's words are printed, never styled


@pytest.mark.parametrize("given", ["no-such-op", "0123456789ab", "0123", "%%%%%%%%%%%%"])
def test_an_unknown_operation_says_where_the_list_is(settings: Settings, given: str) -> None:
    done = run_lab(settings, "operation", "show", given)
    assert done.returncode != 0
    assert f"no operation '{given}'" in done.stderr
    assert "lab operation list" in done.stderr


def test_a_prefix_of_several_ids_asks_for_more(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two random ids sharing their first twelve digits cannot be made to happen: the ids
    are given here."""
    given = iter(uuid.UUID("abcdef012345" + tail) for tail in ("0" * 20, "1" * 20))
    monkeypatch.setattr(uuid, "uuid4", lambda: next(given))
    store = OperationStore.open(settings)
    first, second = (store.create("up", f"lab/p{n}", "admin") for n in (1, 2))
    with pytest.raises(InvalidError, match="several operations' ids start with 'abcdef012345'"):
        store.find("abcdef012345")
    assert store.find(first.id[:13]) == first
    assert store.find(second.id) == second
