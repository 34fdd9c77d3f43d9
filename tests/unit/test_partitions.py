"""Which firmware a disk boots with, read from partition tables sfdisk wrote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.images.partitions import HEAD_SECTORS, SECTOR, required_firmware

ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


def disk(tmp_path: Path, script: str, boot_code: bool = False) -> bytes:
    path = tmp_path / "disk.raw"
    with path.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    subprocess.run(["sfdisk", "-q", path], input=script, text=True, check=True)
    if boot_code:
        with path.open("r+b") as f:
            f.write(b"\xeb\x63\x90" + b"\x00" * 5 + b"GRUB")  # a bootloader's first bytes
    return path.read_bytes()[: HEAD_SECTORS * SECTOR]


@pytest.mark.parametrize(
    ("script", "boot_code", "firmware"),
    [
        (f"label: gpt\nsize=8M, type={ESP}\ntype={LINUX}\n", False, "uefi"),
        (f"label: gpt\nsize=1M, type={BIOS_BOOT}\nsize=8M, type={ESP}\ntype={LINUX}\n", True, None),
        ("label: dos\ntype=83, bootable\n", True, "bios"),
        ("label: dos\nsize=8M, type=ef\ntype=83\n", False, "uefi"),
        ("label: dos\ntype=83\n", False, None),  # no boot code: it does not say
    ],
    ids=["gpt-esp-only", "gpt-hybrid", "mbr-bootloader", "mbr-esp", "mbr-data"],
)
def test_the_partition_table_says_which_firmware_boots_it(
    tmp_path: Path, script: str, boot_code: bool, firmware: str | None
) -> None:
    assert required_firmware(disk(tmp_path, script, boot_code)) == firmware


def test_what_is_no_partition_table_says_nothing() -> None:
    assert required_firmware(b"") is None
    assert required_firmware(b"\x00" * (HEAD_SECTORS * SECTOR)) is None
    cut = bytearray(HEAD_SECTORS * SECTOR)
    cut[510:512] = b"\x55\xaa"
    cut[446 + 4] = 0xEE  # a protective MBR whose GPT header is missing
    assert required_firmware(bytes(cut)) is None
