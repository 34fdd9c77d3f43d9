import threading
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.errors import ConflictError, NotFoundError
from lab.labs.plan import plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile import load_profile
from lab.store.state import StateStore, now

PROFILES = Path(__file__).parents[2] / "profiles"


def _lab(name: str = "demo", images: tuple[str, ...] = ("debian-12",)) -> LabRecord:
    profile = load_profile(PROFILES / "tiny.yaml")
    machine = profile.machines[0]
    profile = profile.model_copy(
        update={
            "machines": tuple(
                machine.model_copy(update={"name": f"m{i}", "image": img})
                for i, img in enumerate(images)
            )
        }
    )
    t = now()
    return LabRecord(
        name=name,
        profile="tiny",
        profile_path="profiles/tiny.yaml",
        status=LabStatus.CREATING,
        plan=plan_lab(profile, name, "hl-", Path("/nonexistent"), IPv4Network("10.250.0.0/24")),
        created_at=t,
        updated_at=t,
    )


def test_add_get_update_delete(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.add_lab(_lab())
    assert store.get_lab("demo").status is LabStatus.CREATING
    store.update_lab(store.get_lab("demo").model_copy(update={"status": LabStatus.RUNNING}))
    assert store.get_lab("demo").status is LabStatus.RUNNING
    assert [lab.name for lab in store.list_labs()] == ["demo"]
    store.delete_lab("demo")
    store.delete_lab("demo")  # idempotent
    assert store.find_lab("demo") is None


def test_duplicate_name_is_a_conflict_with_hint(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.add_lab(_lab())
    with pytest.raises(ConflictError) as info:
        store.add_lab(_lab())
    assert "lab down demo" in info.value.hint


def test_unknown_lab_is_not_found(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    with pytest.raises(NotFoundError):
        store.get_lab("nope")
    with pytest.raises(NotFoundError):
        store.update_lab(_lab("nope"))


def test_labs_using_image_follows_updates(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.add_lab(_lab("a", ("debian-12", "other")))
    store.add_lab(_lab("b", ("debian-12",)))
    assert store.labs_using_image("debian-12") == ["a", "b"]
    assert store.labs_using_image("other") == ["a"]
    store.delete_lab("a")
    assert store.labs_using_image("other") == []


def test_database_is_private(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.add_lab(_lab())
    assert (tmp_path / "state.db").stat().st_mode & 0o077 == 0


def test_a_new_database_opened_by_several_threads_at_once(tmp_path: Path) -> None:
    """Two labs brought up side by side on a new LAB_HOME open its database together:
    switching it to WAL must wait for the other, not fail ("database is locked"; seen
    here in about one round in twenty before)."""
    for round_ in range(40):
        path = tmp_path / f"r{round_}" / "state.db"
        errors: list[BaseException] = []

        def open_it(path: Path = path, errors: list[BaseException] = errors) -> None:
            try:
                StateStore(path).list_labs()
            except BaseException as exc:  # noqa: BLE001 - what the thread met, for the assert
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
