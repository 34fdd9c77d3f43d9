"""qemu-img through the subprocess gate: inspect, convert, checksum."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lab.commands import run
from lab.errors import CommandError, InvalidError

IMPORTABLE = frozenset({"qcow2", "raw", "vmdk", "vdi"})
_HINT = "install qemu-utils (apt-get install qemu-utils)"


def info(path: Path) -> dict[str, Any]:
    """`qemu-img info --output=json` of a file."""
    proc = run(["qemu-img", "info", "--output=json", path], hint=_HINT)
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def detect(path: Path) -> str:
    """The disk format of a file to import, or an InvalidError saying why it is no disk."""
    hint = "import a disk image in qcow2, raw, vmdk or vdi format"
    try:
        data = info(path)
    except CommandError as exc:
        raise InvalidError(f"{path} is not a readable disk image: {exc.message}", hint) from exc
    fmt = str(data.get("format", ""))
    if fmt not in IMPORTABLE:
        raise InvalidError(f"{path} is a {fmt or 'unknown'} image, not one we import", hint)
    if data.get("backing-filename"):
        raise InvalidError(
            f"{path} depends on a backing file ({data['backing-filename']})",
            hint=f"flatten it first: qemu-img convert -O qcow2 {path} flat.qcow2",
        )
    if fmt == "raw":
        _check_raw(path)
    return fmt


def _check_raw(path: Path) -> None:
    # qemu-img calls anything it does not recognise "raw", so a text file or a truncated
    # download would pass. An imported disk boots by its own bootloader: insist on a
    # whole number of sectors and an MBR/protective-MBR boot signature.
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(510)
        signature = f.read(2)
    if size == 0 or size % 512 or signature != b"\x55\xaa":
        raise InvalidError(
            f"{path} is not a disk image: qemu-img sees raw data without a boot sector",
            hint="import a bootable disk (qcow2, raw, vmdk, vdi); recipes build kernel-boot images",
        )


def convert(src: Path, dest: Path, src_format: str = "raw") -> None:
    """Write `src` as a standalone qcow2 at `dest`."""
    run(["qemu-img", "convert", "-q", "-f", src_format, "-O", "qcow2", src, dest], hint=_HINT)


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
