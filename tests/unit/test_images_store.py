"""The image store with tiny disks from qemu-img; the mmdebstrap step is faked."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from lab.errors import CommandError, ConflictError, InvalidError, NotFoundError
from lab.images import Boot, ImageStore, Recipe, SourceKind
from lab.images import build as steps
from lab.settings import Settings

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "images" / "debian-12.yaml"


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(Settings(home=tmp_path / "home"))


def quiet(step: str) -> None:
    del step


def qcow2(path: Path, size: str = "16M") -> Path:
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, size], check=True)
    return path


def bootable_raw(path: Path, size: int = 1024 * 1024) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
        f.seek(510)
        f.write(b"\x55\xaa")
    return path


def test_import_qcow2_then_get_and_list(store: ImageStore, tmp_path: Path) -> None:
    steps_seen: list[str] = []
    image = store.import_file(qcow2(tmp_path / "a.qcow2"), "tiny", steps_seen.append).images[0]
    assert steps_seen
    assert image.boot is Boot.BOOTLOADER and image.kernel is None
    assert image.virtual_size == 16 * 1024**2
    assert image.source.kind is SourceKind.IMPORT and image.source.ref == "a.qcow2"
    assert len(image.digest) == 64
    assert store.get("tiny") == image
    assert [i.name for i in store.list()] == ["tiny"]
    disk = store.disk_path(image)
    assert disk.is_file() and disk.parent.name == image.digest
    with pytest.raises(InvalidError, match="bootloader"):
        store.kernel_path(image)


def test_import_raw_is_converted(store: ImageStore, tmp_path: Path) -> None:
    image = store.import_file(bootable_raw(tmp_path / "disk.img"), "raw-one", quiet).images[0]
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", store.disk_path(image)],
            check=True,
            capture_output=True,
        ).stdout
    )
    assert info["format"] == "qcow2"


@pytest.mark.parametrize("content", [b"", b"hello, I am not a disk\n", b"\0" * 4096])
def test_import_garbage_is_refused(store: ImageStore, tmp_path: Path, content: bytes) -> None:
    junk = tmp_path / "junk.img"
    junk.write_bytes(content)
    with pytest.raises(InvalidError, match="not a disk image") as exc:
        store.import_file(junk, "junk", quiet)
    assert "qcow2" in exc.value.hint
    assert store.list() == []
    blobs = store.root / "blobs"
    assert not blobs.exists() or list(blobs.iterdir()) == []


def test_import_refuses_backing_file_and_missing_file(store: ImageStore, tmp_path: Path) -> None:
    base = qcow2(tmp_path / "base.qcow2")
    top = tmp_path / "top.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, top], check=True
    )
    with pytest.raises(InvalidError, match="backing file"):
        store.import_file(top, "top", quiet)
    with pytest.raises(NotFoundError):
        store.import_file(tmp_path / "nope.qcow2", "nope", quiet)


def test_names_are_checked_and_unique(store: ImageStore, tmp_path: Path) -> None:
    disk = qcow2(tmp_path / "a.qcow2")
    with pytest.raises(InvalidError, match="not a valid image name"):
        store.import_file(disk, "../evil", quiet)
    store.import_file(disk, "one", quiet)
    with pytest.raises(ConflictError):
        store.import_file(disk, "one", quiet)


def test_stored_files_are_read_only_and_world_readable(store: ImageStore, tmp_path: Path) -> None:
    image = store.import_file(qcow2(tmp_path / "a.qcow2"), "tiny", quiet).images[0]
    blob = store.disk_path(image).parent
    for f in blob.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o444, f
    for d in (blob, blob.parent, store.root, store.settings.home):
        assert stat.S_IMODE(d.stat().st_mode) == 0o755, d


def test_get_unknown_has_a_hint(store: ImageStore) -> None:
    with pytest.raises(NotFoundError) as exc:
        store.get("debian-13")
    assert "lab image build images/debian-13.yaml" in exc.value.hint


def test_rm_refused_while_used_then_deletes_last_blob(store: ImageStore, tmp_path: Path) -> None:
    disk = qcow2(tmp_path / "a.qcow2")
    a = store.import_file(disk, "a", quiet).images[0]
    b = store.import_file(disk, "b", quiet).images[0]  # same bytes: same blob, two names
    assert a.digest == b.digest
    with pytest.raises(ConflictError, match="lab1"):
        store.remove("a", used_by=["lab1"])
    assert store.get("a")
    store.remove("a", used_by=[])
    assert store.disk_path(b).exists()  # "b" still points at it
    store.remove("b", used_by=[])
    assert not store.disk_path(b).parent.exists()
    assert store.list() == []
    with pytest.raises(NotFoundError):
        store.remove("b", used_by=[])


@pytest.fixture
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace mmdebstrap and the disk step with something that takes milliseconds."""
    calls: list[str] = []

    def bootstrap(recipe: Recipe, rootfs: Path, work: Path, mirror: str) -> None:
        calls.append("bootstrap")
        (rootfs / "boot").mkdir(parents=True)
        (rootfs / "boot" / "vmlinuz-6.1.0-1-cloud-amd64").write_bytes(b"kernel")
        (rootfs / "boot" / "initrd.img-6.1.0-1-cloud-amd64").write_bytes(b"initrd")

    def make_disk(rootfs: Path, size: int, raw: Path, dest: Path) -> None:
        qcow2(dest, str(size))

    monkeypatch.setattr(steps, "bootstrap", bootstrap)
    monkeypatch.setattr(steps, "configure", lambda rootfs: None)
    monkeypatch.setattr(steps, "package_versions", lambda rootfs, pkgs: ("python3=3.11",))
    monkeypatch.setattr(steps, "make_disk", make_disk)
    return calls


def test_build_stores_kernel_boot_image_and_caches(
    store: ImageStore, fake_steps: list[str]
) -> None:
    image = store.build(RECIPE, quiet)
    assert fake_steps == ["bootstrap"]
    assert image.name == "debian-12" and image.boot is Boot.KERNEL
    assert image.cmdline is not None and "root=/dev/vda" in image.cmdline
    assert store.kernel_path(image).read_bytes() == b"kernel"
    assert store.initrd_path(image).read_bytes() == b"initrd"
    assert image.source.kind is SourceKind.RECIPE and image.source.ref == "debian-12.yaml"
    assert image.packages == ("python3=3.11",)
    assert image.virtual_size == 3 * 1024**3

    started = time.monotonic()
    again = store.build(RECIPE, quiet)
    assert time.monotonic() - started < 0.5
    assert again == image
    assert fake_steps == ["bootstrap"]  # cache hit: nothing ran

    store.build(RECIPE, quiet, force=True)
    assert fake_steps == ["bootstrap", "bootstrap"]


def test_failed_build_leaves_nothing(
    store: ImageStore, fake_steps: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(rootfs: Path, size: int, raw: Path, dest: Path) -> None:
        raw.write_bytes(b"half a disk")
        raise CommandError("mkfs.ext4 failed")

    monkeypatch.setattr(steps, "make_disk", broken)
    with pytest.raises(CommandError):
        store.build(RECIPE, quiet)
    for sub in ("blobs", "names", "cache", "tmp"):
        assert list((store.root / sub).iterdir()) == [], sub


def test_failing_bootstrap_leaves_nothing(
    store: ImageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(recipe: Recipe, rootfs: Path, work: Path, mirror: str) -> None:
        rootfs.mkdir()
        raise CommandError("mmdebstrap failed")

    monkeypatch.setattr(steps, "bootstrap", fail)
    with pytest.raises(CommandError):
        store.build(RECIPE, quiet)
    assert store.list() == []
    assert list((store.root / "tmp").iterdir()) == []


def test_stale_work_dirs_are_removed(store: ImageStore, tmp_path: Path) -> None:
    store.import_file(qcow2(tmp_path / "a.qcow2"), "a", quiet)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = store.root / "tmp" / f"{dead.pid}-killed"
    (stale / "rootfs").mkdir(parents=True)
    live = store.root / "tmp" / f"{os.getpid()}-running"
    live.mkdir()
    store.import_file(qcow2(tmp_path / "b.qcow2", "8M"), "b", quiet)
    assert not stale.exists()
    assert live.exists()


def test_host_sources_are_retargeted() -> None:
    deb822 = "Types: deb\nURIs: http://m/debian\nSuites: bookworm bookworm-updates\n"
    assert "Suites: trixie trixie-updates" in steps._retarget(deb822, "bookworm", "trixie")
    oneline = "deb [arch=amd64] http://m/debian-security bookworm-security main\n"
    assert steps._retarget(oneline, "bookworm", "trixie") == (
        "deb [arch=amd64] http://m/debian-security trixie-security main\n"
    )
    assert steps._retarget(deb822, "bookworm", "bookworm") == deb822
