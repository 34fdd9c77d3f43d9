"""Which firmware an imported disk boots with, read from its first sectors (pure).

A disk says it where it can: an MBR with boot code boots with BIOS; a GPT disk with an EFI
system partition, no BIOS boot partition and no boot code in its protective MBR boots with
UEFI only. Anything else (a hybrid disk, a layout not seen here) says nothing, and the
profile's choice stands.
"""

from __future__ import annotations

import struct
import uuid
from typing import Literal

Firmware = Literal["bios", "uefi"]

SECTOR = 512
HEAD_SECTORS = 34  # the MBR, the GPT header and 128 partition entries of 128 bytes
_ESP = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
_BIOS_BOOT = uuid.UUID("21686148-6449-6e6f-744e-656564454649")
_PROTECTIVE, _EFI_MBR = 0xEE, 0xEF


def required_firmware(head: bytes) -> Firmware | None:
    """The only firmware that boots a disk whose first sectors are `head`; None when the
    disk does not say (or either could)."""
    if len(head) < SECTOR or head[510:512] != b"\x55\xaa":
        return None
    boot_code = any(head[:440])
    types = [head[446 + 16 * i + 4] for i in range(4)]
    if _PROTECTIVE in types:
        kinds = _gpt_types(head)
        if kinds is None:
            return None
        if _ESP in kinds and _BIOS_BOOT not in kinds and not boot_code:
            return "uefi"
        return None
    if _EFI_MBR in types and not boot_code:
        return "uefi"
    return "bios" if boot_code and any(types) else None


def _gpt_types(head: bytes) -> set[uuid.UUID] | None:
    header = head[SECTOR : 2 * SECTOR]
    if header[:8] != b"EFI PART":
        return None
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    start = entries_lba * SECTOR
    if size < 128 or start + count * size > len(head):
        return None
    found = set()
    for i in range(count):
        raw = head[start + i * size : start + i * size + 16]
        if any(raw):
            found.add(uuid.UUID(bytes_le=raw))
    return found
