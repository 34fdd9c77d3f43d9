"""What uses an image, its removal, and the prune of old builds: the rule, and the store
with tiny qcow2 disks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.errors import ConflictError, NotFoundError
from lab.images import ImageStore
from lab.images.usage import images_with_users, prunable, prune, remove, users_of
from lab.settings import Settings
from lab.store.state import StateStore
from tests.api.conftest import _make_lab


def quiet(step: str) -> None:
    del step


def _import(store: ImageStore, tmp_path: Path, name: str, size: str) -> str:
    disk = tmp_path / f"{name}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, size], check=True)
    return store.import_file(disk, name, quiet).images[0].digest


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", prefix="hlt-")


def test_the_rule_keeps_named_and_used_builds() -> None:
    builds = ["a", "b", "c", "d"]
    assert prunable(builds, named={"a"}, used={"c"}) == ["b", "d"]
    assert prunable(builds, named=builds, used=()) == []
    assert prunable([], named={"a"}, used={"b"}) == []


def test_used_by_names_labs(settings: Settings, tmp_path: Path) -> None:
    store = ImageStore(settings)
    _import(store, tmp_path, "debian-12", "16M")
    _import(store, tmp_path, "spare", "8M")
    _make_lab(settings, "one", 0)  # tiny.yaml: two machines on debian-12
    _make_lab(settings, "two", 1)
    found = {u.image.name: u.used_by for u in images_with_users(settings)}
    assert found == {"debian-12": ("lab one", "lab two"), "spare": ()}
    assert users_of(settings, "debian-12") == ("lab one", "lab two")


def test_remove_refuses_an_image_in_use_and_an_unknown_one(
    settings: Settings, tmp_path: Path
) -> None:
    store = ImageStore(settings)
    _import(store, tmp_path, "debian-12", "16M")
    _make_lab(settings, "one", 0)
    with pytest.raises(ConflictError, match="lab one"):
        remove(settings, "debian-12")
    with pytest.raises(NotFoundError):
        remove(settings, "nothing")
    StateStore.open(settings).delete_lab("one")
    remove(settings, "debian-12")
    assert store.list() == [] and store.builds() == {}


def test_prune_deletes_old_builds_nothing_uses(settings: Settings, tmp_path: Path) -> None:
    store = ImageStore(settings)
    old = _import(store, tmp_path, "debian-12", "16M")
    older = _import(store, tmp_path, "web", "8M")
    new = _import(store, tmp_path, "new", "4M")
    # Both names rebuilt: they point at the newest build, the old ones stay behind.
    store._point("debian-12", new)
    store._point("web", new)
    # A lab's disks still sit on the old debian-12 build: it is kept.
    lab = _make_lab(settings, "one", 0)
    state = StateStore.open(settings)
    state.update_lab(lab.model_copy(update={"image_digests": {"m1": old}}))

    dry = prune(settings, dry_run=True)
    assert dry.dry_run and [b.digest for b in dry.builds] == [older]
    assert dry.bytes_freed == dry.builds[0].bytes > 0
    assert older in store.builds()  # nothing deleted yet

    done = prune(settings)
    assert [b.digest for b in done.builds] == [older]
    assert done.builds[0].source == "import:web.qcow2"
    assert set(store.builds()) == {old, new}
    assert prune(settings).builds == ()  # nothing left to prune

    state.delete_lab("one")
    assert [b.digest for b in prune(settings).builds] == [old]
    assert set(store.builds()) == {new}  # the newest build of each name stays


def test_prune_of_an_empty_store(settings: Settings) -> None:
    result = prune(settings)
    assert result.builds == () and result.bytes_freed == 0
