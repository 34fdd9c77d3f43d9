"""qemu-img through the subprocess gate: inspect, check, convert, checksum."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.commands import complete, run, stream, tail
from lab.errors import CommandError, HostError, InvalidError

# qemu-img's names: "vpc" is VHD.
IMPORTABLE = frozenset({"qcow2", "raw", "vmdk", "vdi", "vhdx", "vpc"})
# The formats whose consistency `qemu-img check` (7.2) can verify; raw and vpc it cannot.
CHECKABLE = frozenset({"qcow2", "vmdk", "vdi", "vhdx"})
_HINT = "install qemu-utils (apt-get install qemu-utils)"
_FORMATS = "qcow2, raw, vmdk, vdi, vhdx or vhd"
_REEXPORT = f"export the disk again from its source (as {_FORMATS}) and copy it whole"
# What a file's name says it is, to tell "corrupt" from "not an image" when qemu-img
# probes raw data.
_BY_SUFFIX = {
    ".qcow2": "qcow2",
    ".qcow": "qcow2",
    ".vmdk": "vmdk",
    ".vdi": "vdi",
    ".vhdx": "vhdx",
    ".vhd": "vpc",
}
# A file so named is never raw data. A .vmdk may be: a flat extent given on its own.
_NEVER_RAW = frozenset({"qcow2", "vdi", "vhdx", "vpc"})
_CHUNK = 8 * 1024 * 1024
_OPENING = re.compile(r"Could not open '[^']*': ")


def info(path: Path, fmt: str | None = None) -> dict[str, Any]:
    """`qemu-img info --output=json` of a file (probing its format unless `fmt`)."""
    argv: list[str | Path] = ["qemu-img", "info", "--output=json"]
    if fmt:
        argv += ["-f", fmt]
    proc = run([*argv, path], hint=_HINT)
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def detect(path: Path) -> str:
    """The disk format of a file to import, or an InvalidError saying why it is no disk."""
    hint = f"import a disk image in {_FORMATS} format"
    try:
        data = info(path)
    except CommandError as exc:
        raise _damaged(path, _BY_SUFFIX.get(path.suffix.lower(), "disk"), exc) from exc
    fmt = str(data.get("format", ""))
    if fmt not in IMPORTABLE:
        raise InvalidError(f"{path} is a {fmt or 'unknown'} image, not one we import", hint)
    if data.get("backing-filename"):
        raise InvalidError(
            f"{path} depends on a backing file ({data['backing-filename']})",
            hint=f"flatten it first: qemu-img convert -O qcow2 {path} flat.qcow2",
        )
    if fmt == "raw" and _is_fixed_vhd(path):
        # A fixed-size VHD has its only header at the end: qemu-img probes it as raw.
        return "vpc"
    claimed = _BY_SUFFIX.get(path.suffix.lower())
    if fmt == "raw" and claimed in _NEVER_RAW:
        # Its header (a VHD's footer: at the end) is gone: cut short or overwritten.
        raise InvalidError(
            f"{path} is not a valid {shown(claimed)} image: its header is missing or damaged"
            " (truncated or corrupt; qemu-img sees raw data)",
            hint=_REEXPORT,
        )
    if fmt == "raw":
        _check_raw(path)
    return fmt


def check(path: Path, fmt: str) -> None:
    """Refuse a damaged disk (truncated, corrupt metadata) before it is stored: qemu-img
    would convert a truncated qcow2 or vmdk without a word, reading zeros past the end."""
    try:
        data = info(path, fmt)
    except CommandError as exc:
        raise _damaged(path, fmt, exc) from exc
    if fmt == "vmdk":
        _check_extents(path, data)
    if fmt == "vdi":
        _check_vdi(path)
    if fmt not in CHECKABLE:
        return
    # Exit codes: 0 clean, 3 only leaked clusters (harmless), 2 corrupt, 1 not checked.
    proc = complete(["qemu-img", "check", "-f", fmt, "--output=json", path], hint=_HINT)
    if proc.returncode in (0, 3):
        return
    try:
        report = json.loads(proc.stdout or b"{}")
    except json.JSONDecodeError:
        report = {}
    words = _first_error(proc.stderr) or f"qemu-img check exit code {proc.returncode}"
    if report.get("corruptions"):
        words = f"{report['corruptions']} corruptions ({words})"
    raise InvalidError(
        f"{path} is a damaged {shown(fmt)} image (truncated or corrupt): {words}",
        hint=_REEXPORT,
    )


def _damaged(path: Path, fmt: str, exc: CommandError) -> InvalidError:
    words = _first_error(exc.message.encode()) or exc.message
    return InvalidError(
        f"{path} is a damaged {shown(fmt)} image (truncated or corrupt): {words}",
        hint=_REEXPORT,
    )


def _first_error(stderr: bytes) -> str:
    """The first line of qemu-img's complaint, without its `qemu-img: ` prefix."""
    for line in tail(stderr).splitlines():
        text = _OPENING.sub("", line.strip().removeprefix("qemu-img:").strip())
        if text and not text.startswith("`"):
            return text[:200]
    return ""


def shown(fmt: str) -> str:
    """A format as users call it (qemu-img's vpc is VHD)."""
    return "vhd" if fmt == "vpc" else fmt


def _check_raw(path: Path) -> None:
    # qemu-img calls anything it does not recognise "raw", so a text file or a truncated
    # download would pass. An imported disk boots by its own bootloader: insist on a
    # whole number of sectors and an MBR/protective-MBR boot signature.
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(510)
        signature = f.read(2)
    if size == 0 or size % 512 or signature != b"\x55\xaa":
        claimed = _BY_SUFFIX.get(path.suffix.lower())
        if claimed and size:
            raise InvalidError(
                f"{path} is not a valid {shown(claimed)} image: its header is damaged"
                " (qemu-img sees raw data without a boot sector)",
                hint=_REEXPORT,
            )
        raise InvalidError(
            f"{path} is not a disk image: qemu-img sees raw data without a boot sector",
            hint=f"import a bootable disk ({_FORMATS}); recipes build kernel-boot images",
        )


def _is_fixed_vhd(path: Path) -> bool:
    size = path.stat().st_size
    if size < 1024 or size % 512:
        return False
    with path.open("rb") as f:
        f.seek(size - 512)
        return f.read(8) == b"conectix"


def _check_extents(path: Path, data: dict[str, Any]) -> None:
    """A vmdk descriptor names its data files: they must lie beside it, and be whole."""
    extents = data.get("format-specific", {}).get("data", {}).get("extents", [])
    base = path.resolve().parent
    for extent in extents:
        name = Path(str(extent.get("filename", "")))
        target = (base / name).resolve()
        if target.parent != base:
            raise InvalidError(
                f"{path} refers to a data file outside its directory: {name}",
                hint="keep a vmdk's extent files beside its descriptor",
            )
        if extent.get("format") == "FLAT" and target.stat().st_size < int(
            extent.get("virtual-size", 0)
        ):
            raise InvalidError(
                f"{path} is a damaged vmdk image (truncated): its extent {target.name}"
                f" holds {target.stat().st_size} of {extent['virtual-size']} bytes",
                hint=_REEXPORT,
            )


# VirtualBox's header (little-endian): offsets of the block map and the data, the
# block size and the number of blocks allocated. qemu-img check does not compare them
# with the file's length, so a truncated vdi would pass.
_VDI_SIGNATURE = 0xBEDA107F


def _check_vdi(path: Path) -> None:
    with path.open("rb") as f:
        header = f.read(0x188)
    if len(header) < 0x188 or struct.unpack_from("<I", header, 0x40)[0] != _VDI_SIGNATURE:
        raise InvalidError(f"{path} is a damaged vdi image: no vdi header", hint=_REEXPORT)
    offset_data = struct.unpack_from("<I", header, 0x158)[0]
    block_size = struct.unpack_from("<I", header, 0x178)[0]
    allocated = struct.unpack_from("<I", header, 0x184)[0]
    needed = offset_data + allocated * block_size
    size = path.stat().st_size
    if size < needed:
        raise InvalidError(
            f"{path} is a damaged vdi image (truncated): {size} bytes of {needed}",
            hint=_REEXPORT,
        )


def convert(
    src: Path,
    dest: Path,
    src_format: str = "raw",
    percent: Callable[[float], None] | None = None,
) -> None:
    """Write `src` as a standalone qcow2 at `dest`; `percent(p)` as qemu-img goes, if given."""
    argv: list[str | Path] = ["qemu-img", "convert", "-f", src_format, "-O", "qcow2", src, dest]
    try:
        if percent is None:
            run([*argv[:2], "-q", *argv[2:]], hint=_HINT)
        else:
            stream([*argv[:2], "-p", *argv[2:]], _meter(percent), hint=_HINT)
    except CommandError as exc:
        words = _first_error(exc.message.encode()) or exc.message
        if "No space left" in words:
            raise HostError(f"no space left converting {src}", hint="free disk space") from exc
        raise InvalidError(
            f"{src} could not be read as {shown(src_format)}: {words}", hint=_REEXPORT
        ) from exc


def sha256(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    """The file's sha256; `progress(done, total)` after each chunk when given."""
    return file_digest(path, "sha256", progress)


def file_digest(
    path: Path, algorithm: str, progress: Callable[[int, int], None] | None = None
) -> str:
    if progress is None:
        with path.open("rb") as f:
            return hashlib.file_digest(f, algorithm).hexdigest()
    total = path.stat().st_size
    digest = hashlib.new(algorithm)
    done = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            progress(done, total)
    return digest.hexdigest()


_PERCENT = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def _meter(percent: Callable[[float], None]) -> Callable[[bytes], None]:
    """qemu-img's `-p` meter (`    (12.50/100%)\r`, in pieces) as calls of `percent`."""
    pending = [b""]

    def feed(chunk: bytes) -> None:
        text = pending[0] + chunk
        found = _PERCENT.findall(text)
        if found:
            percent(float(found[-1]))
        pending[0] = text[-32:]

    return feed


def head(path: Path, fmt: str, dest: Path, sectors: int) -> bytes:
    """The first `sectors` 512-byte sectors of the disk in `path`, as the guest sees them
    (through its format), via a scratch file `dest`."""
    dest.unlink(missing_ok=True)
    run(
        [
            "qemu-img",
            "dd",
            "-f",
            fmt,
            "-O",
            "raw",
            "bs=512",
            f"count={sectors}",
            f"if={path}",
            f"of={dest}",
        ],
        hint=_HINT,
    )
    try:
        return dest.read_bytes()
    finally:
        dest.unlink(missing_ok=True)
