"""Importing what a community hands over: every disk format, OVF and OVA, damaged files.
Disks are a few MiB, made with qemu-img; OVAs are made with tarfile."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.images import ImageStore, ImportResult
from lab.profile.appliance import DiskBus, Firmware, NicModel
from lab.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "ovf"
VMWARE = (FIXTURES / "vmware.ovf").read_text()
VIRTUALBOX = (FIXTURES / "virtualbox.ovf").read_text()
MiB = 1024**2


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(Settings(home=tmp_path / "home"))


def quiet(step: str) -> None:
    del step


def contents(store: ImageStore) -> dict[str, list[str]]:
    """What blobs/, names/ and tmp/ hold: an import that fails leaves them as they were."""
    return {
        sub: sorted(p.name for p in (store.root / sub).iterdir())
        if (store.root / sub).is_dir()
        else []
        for sub in ("blobs", "names", "tmp")
    }


def source_raw(path: Path, size: int = 2 * MiB) -> Path:
    """A bootable raw disk full of random data, so a cut loses allocated clusters."""
    data = bytearray(os.urandom(size))
    data[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(data))
    return path


def disk(tmp_path: Path, name: str, fmt: str, *options: str) -> Path:
    raw = source_raw(tmp_path / f"{name}.src")
    dest = tmp_path / name
    argv = ["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt]
    for option in options:
        argv += ["-o", option]
    subprocess.run([*argv, raw, dest], check=True)
    raw.unlink()
    return dest


def cut(path: Path) -> Path:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)
    return path


def scribble(path: Path, offset: int, size: int = 4096) -> Path:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(b"\xa5" * size)
    return path


FORMATS = [
    ("d.qcow2", "qcow2", ()),
    ("d.vmdk", "vmdk", ()),
    ("stream.vmdk", "vmdk", ("subformat=streamOptimized",)),
    ("flat.vmdk", "vmdk", ("subformat=monolithicFlat",)),
    ("d.vdi", "vdi", ()),
    ("d.vhdx", "vhdx", ()),
    ("d.vhd", "vpc", ()),
    ("fixed.vhd", "vpc", ("subformat=fixed",)),
]


@pytest.mark.parametrize(("name", "fmt", "options"), FORMATS, ids=[f[0] for f in FORMATS])
def test_each_format_imports(
    store: ImageStore, tmp_path: Path, name: str, fmt: str, options: tuple[str, ...]
) -> None:
    result = store.import_file(disk(tmp_path, name, fmt, *options), "one", quiet)
    assert result.hints is None
    (image,) = result.images
    assert image.name == "one" and image.format == "qcow2"
    # VHD rounds its size to a disk geometry (cylinders, heads, sectors): a little more.
    assert 2 * MiB <= image.virtual_size < 3 * MiB
    assert image.source.ref == name
    assert store.get("one") == image


def test_raw_imports(store: ImageStore, tmp_path: Path) -> None:
    result = store.import_file(source_raw(tmp_path / "disk.img"), "raw", quiet)
    assert result.images[0].virtual_size == 2 * MiB


TRUNCATED = [f for f in FORMATS if f[0] != "flat.vmdk"]


@pytest.mark.parametrize(("name", "fmt", "options"), TRUNCATED, ids=[f[0] for f in TRUNCATED])
def test_truncated_disk_is_refused_and_nothing_stored(
    store: ImageStore, tmp_path: Path, name: str, fmt: str, options: tuple[str, ...]
) -> None:
    store.import_file(source_raw(tmp_path / "ok.img"), "before", quiet)
    before = contents(store)
    path = cut(disk(tmp_path, name, fmt, *options))
    with pytest.raises(InvalidError, match=r"damaged|truncated") as exc:
        store.import_file(path, "cut", quiet)
    assert exc.value.message.count(name) == 1  # one error, naming the file once
    assert name in exc.value.message and exc.value.hint
    assert contents(store) == before


def test_truncated_flat_vmdk_extent_is_refused(store: ImageStore, tmp_path: Path) -> None:
    path = disk(tmp_path, "flat.vmdk", "vmdk", "subformat=monolithicFlat")
    cut(tmp_path / "flat-flat.vmdk")
    with pytest.raises(InvalidError, match="truncated"):
        store.import_file(path, "cut", quiet)
    assert contents(store)["names"] == []


@pytest.mark.parametrize(
    ("name", "fmt", "offset", "words"),
    [
        ("d.qcow2", "qcow2", 0, "not a valid qcow2 image"),  # the header itself
        ("d.qcow2", "qcow2", 0x30000, "damaged qcow2"),  # its L1 table
        ("d.vmdk", "vmdk", 512, "damaged vmdk"),  # the sparse header's descriptor
        ("d.vdi", "vdi", 512, "damaged vdi"),  # the block map
        ("d.vhd", "vpc", 512, "damaged vhd"),  # the dynamic header
    ],
)
def test_corrupt_disk_is_refused(
    store: ImageStore, tmp_path: Path, name: str, fmt: str, offset: int, words: str
) -> None:
    path = scribble(disk(tmp_path, name, fmt), offset)
    with pytest.raises(InvalidError, match=words) as exc:
        store.import_file(path, "bad", quiet)
    assert str(path) in exc.value.message and exc.value.hint
    assert contents(store) == {"blobs": [], "names": [], "tmp": []}


def test_a_file_that_is_no_image_is_refused(store: ImageStore, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the root password is in the other file\n" * 100)
    with pytest.raises(InvalidError, match="not a disk image"):
        store.import_file(notes, "notes", quiet)
    fake = tmp_path / "fake.vmdk"
    fake.write_bytes(b"\x00" * 4096)
    with pytest.raises(InvalidError, match="not a valid vmdk image"):
        store.import_file(fake, "fake", quiet)


# -- OVA and OVF ---------------------------------------------------------------------------


def manifest(files: dict[str, bytes], algorithm: str = "SHA256") -> bytes:
    lines = [
        f"{algorithm}({name})= {hashlib.new(algorithm.lower(), data).hexdigest()}\n"
        for name, data in files.items()
    ]
    return "".join(lines).encode()


def make_ova(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def vmware_members(tmp_path: Path, second: Path | None = None) -> dict[str, bytes]:
    one = disk(tmp_path, "one.vmdk", "vmdk", "subformat=streamOptimized").read_bytes()
    two = (second or disk(tmp_path, "two.vmdk", "vmdk", "subformat=streamOptimized")).read_bytes()
    files = {"fw.ovf": VMWARE.encode(), "fw-disk1.vmdk": one, "fw-disk2.vmdk": two}
    return files | {"fw.mf": manifest(files)}


def test_multi_disk_ova_gives_name_and_name_disk2_with_hints(
    store: ImageStore, tmp_path: Path
) -> None:
    ova = make_ova(tmp_path / "Firewall Appliance.ova", vmware_members(tmp_path))
    seen: list[str] = []
    result = store.import_file(ova, "fw", seen.append)
    assert [i.name for i in result.images] == ["fw", "fw-disk2"]
    assert [i.source.ref for i in result.images] == [
        "Firewall Appliance.ova/fw-disk1.vmdk",
        "Firewall Appliance.ova/fw-disk2.vmdk",
    ]
    assert {i.name for i in store.list()} == {"fw", "fw-disk2"}
    hints = result.hints
    assert hints is not None
    assert (hints.name, hints.vcpus, hints.memory) == ("Firewall Appliance", 2, 2 * 1024**3)
    assert hints.firmware is Firmware.UEFI and hints.os_type == "otherLinux64Guest"
    assert [(d.file, d.bus) for d in hints.disks] == [
        ("fw-disk1.vmdk", DiskBus.SATA),
        ("fw-disk2.vmdk", DiskBus.SCSI),
    ]
    assert [(n.model, n.mac) for n in hints.nics] == [
        (NicModel.E1000E, "00:50:56:aa:bb:cc"),
        (NicModel.E1000E, None),
    ]
    assert any("VmxNet3" in note for note in hints.notes)
    assert any(step.startswith("unpacking fw-disk1.vmdk") for step in seen)
    assert contents(store)["tmp"] == []


def test_second_disk_damaged_stores_none(store: ImageStore, tmp_path: Path) -> None:
    bad = cut(disk(tmp_path, "two.vmdk", "vmdk"))
    ova = make_ova(tmp_path / "fw.ova", vmware_members(tmp_path, second=bad))
    with pytest.raises(InvalidError, match=r"fw-disk2\.vmdk"):
        store.import_file(ova, "fw", quiet)
    assert contents(store) == {"blobs": [], "names": [], "tmp": []}


def test_name_of_a_later_disk_taken_stores_none(store: ImageStore, tmp_path: Path) -> None:
    store.import_file(source_raw(tmp_path / "x.img"), "fw-disk2", quiet)
    before = contents(store)
    ova = make_ova(tmp_path / "fw.ova", vmware_members(tmp_path))
    with pytest.raises(ConflictError, match="fw-disk2"):
        store.import_file(ova, "fw", quiet)
    assert contents(store) == before


def test_manifest_mismatch_is_refused(store: ImageStore, tmp_path: Path) -> None:
    members = vmware_members(tmp_path)
    files = {k: v for k, v in members.items() if not k.endswith(".mf")}
    members["fw.mf"] = manifest(files | {"fw-disk2.vmdk": b"another disk"})
    ova = make_ova(tmp_path / "fw.ova", members)
    with pytest.raises(InvalidError, match=r"fw-disk2.vmdk does not match fw.mf") as exc:
        store.import_file(ova, "fw", quiet)
    assert "transit" in exc.value.hint
    assert contents(store) == {"blobs": [], "names": [], "tmp": []}


def test_sha1_manifest_is_verified(store: ImageStore, tmp_path: Path) -> None:
    members = vmware_members(tmp_path)
    files = {k: v for k, v in members.items() if not k.endswith(".mf")}
    ova = make_ova(tmp_path / "fw.ova", files | {"fw.mf": manifest(files, "SHA1")})
    assert len(store.import_file(ova, "fw", quiet).images) == 2


@pytest.mark.parametrize(
    ("member", "kind", "words"),
    [
        ("../escape.vmdk", tarfile.REGTYPE, "outside its own directory"),
        ("/etc/cron.d/evil", tarfile.REGTYPE, "outside its own directory"),
        ("sub/fw-disk1.vmdk", tarfile.REGTYPE, "outside its own directory"),
        ("link.vmdk", tarfile.SYMTYPE, "not a plain file"),
        ("dev.vmdk", tarfile.CHRTYPE, "not a plain file"),
        ("readme.txt", tarfile.REGTYPE, "does not name: readme.txt"),
    ],
)
def test_hostile_ova_members_are_refused(
    store: ImageStore, tmp_path: Path, member: str, kind: bytes, words: str
) -> None:
    ova = make_ova(tmp_path / "fw.ova", vmware_members(tmp_path))
    with tarfile.open(ova, "a") as tar:
        info = tarfile.TarInfo(member)
        info.type = kind
        info.linkname = "/etc/shadow" if kind == tarfile.SYMTYPE else ""
        data = b"x" * 10 if kind == tarfile.REGTYPE else b""
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InvalidError, match=words):
        store.import_file(ova, "fw", quiet)
    assert contents(store) == {"blobs": [], "names": [], "tmp": []}
    assert not (tmp_path / "escape.vmdk").exists()


def test_truncated_ova_is_refused(store: ImageStore, tmp_path: Path) -> None:
    ova = cut(make_ova(tmp_path / "fw.ova", vmware_members(tmp_path)))
    with pytest.raises(InvalidError, match=r"truncated|damaged"):
        store.import_file(ova, "fw", quiet)
    assert contents(store) == {"blobs": [], "names": [], "tmp": []}


def test_not_a_tar_is_refused(store: ImageStore, tmp_path: Path) -> None:
    ova = tmp_path / "fw.ova"
    ova.write_bytes(b"PK\x03\x04 a zip, not a tar" * 40)
    with pytest.raises(InvalidError, match="not an OVA"):
        store.import_file(ova, "fw", quiet)


def test_ovf_beside_its_disks_imports_with_virtualbox_hints(
    store: ImageStore, tmp_path: Path
) -> None:
    disk(tmp_path, "ctf-box-disk001.vmdk", "vmdk", "subformat=streamOptimized")
    descriptor = tmp_path / "ctf-box.ovf"
    descriptor.write_text(VIRTUALBOX)
    result = store.import_file(descriptor, "ctf-box", quiet)
    assert [i.name for i in result.images] == ["ctf-box"]
    hints = result.hints
    assert hints is not None
    assert (hints.vcpus, hints.memory, hints.firmware) == (1, 1536 * MiB, Firmware.UEFI)
    assert hints.disks[0].bus is DiskBus.IDE and hints.os_type == "Debian_64"
    assert [(n.model, n.mac) for n in hints.nics] == [
        (NicModel.VIRTIO, "08:00:27:12:34:56"),
        (NicModel.E1000E, None),
    ]


def test_ovf_reference_leaving_its_directory_is_refused(store: ImageStore, tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    descriptor = tmp_path / "inner" / "ctf-box.ovf"
    descriptor.write_text(VIRTUALBOX.replace("ctf-box-disk001.vmdk", "../outside.vmdk"))
    disk(tmp_path, "outside.vmdk", "vmdk")
    with pytest.raises(InvalidError, match="outside its own directory"):
        store.import_file(descriptor, "ctf-box", quiet)
    # A symlink beside it that points out is no way out either.
    (tmp_path / "inner" / "ctf-box-disk001.vmdk").symlink_to(tmp_path / "outside.vmdk")
    descriptor.write_text(VIRTUALBOX)
    with pytest.raises(InvalidError, match="outside its directory"):
        store.import_file(descriptor, "ctf-box", quiet)


def test_ovf_missing_disk_is_not_found(store: ImageStore, tmp_path: Path) -> None:
    descriptor = tmp_path / "ctf-box.ovf"
    descriptor.write_text(VIRTUALBOX)
    with pytest.raises(NotFoundError, match=r"ctf-box-disk001\.vmdk"):
        store.import_file(descriptor, "ctf-box", quiet)


def test_result_is_frozen(store: ImageStore, tmp_path: Path) -> None:
    result = store.import_file(source_raw(tmp_path / "x.img"), "x", quiet)
    assert isinstance(result, ImportResult)
    with pytest.raises(ValueError, match="frozen"):
        result.hints = None  # type: ignore[misc]


def test_a_large_conversion_reports_its_progress_by_tenths(tmp_path: Path) -> None:
    """qemu-img's own meter, read as it goes: a line per tenth of a large disk."""
    from lab.images import qemu
    from lab.images.imports import percent_steps

    raw = tmp_path / "big.raw"
    with raw.open("wb") as f:
        for _ in range(80):
            f.write(os.urandom(1024 * 1024))  # 80 MiB of data (64 MiB and up is "large")
    lines: list[str] = []
    steps = percent_steps(lines.append, "converting big.raw")
    size = raw.stat().st_size
    qemu.convert(
        raw, tmp_path / "big.qcow2", "raw", percent=lambda p: steps(int(size * p / 100), size)
    )
    assert lines[-1] == "converting big.raw: 100%", lines
    assert len(lines) >= 3 and len(set(lines)) == len(lines), lines
