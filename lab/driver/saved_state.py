"""libvirt's QEMU save image, read and re-headed (pure).

A memory state file (`virsh save`, a baseline's `M.sav`) is a 92-byte header
(`LibvirtQemudSave`, version, the length of what follows it, whether the guest ran,
compression, the offset of the cookie), the domain XML and a cookie (NUL-terminated),
then QEMU's own migration stream to the end of the file.

libvirt restores a state only into a domain of the same name and UUID. A lab cloned
from a template needs its own domain, over the very same stream: `restore_header` makes
the header and XML of the clone's domain, and the stream follows it unchanged (the driver
sends both through a pipe, so no clone copies the state). The clone's XML must describe
the same virtual hardware (lab.driver.domain_xml.clone_domain_xml keeps it so): libvirt
cannot check that here, since the state it reads names the clone's domain only.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict

from lab.errors import InvalidError

MAGIC = b"LibvirtQemudSave"
_PARTIAL = b"LibvirtQemudPart"  # a save that never finished
_VERSION = 2
_HEADER = struct.Struct("<16s5I14I")  # magic, version, data_len, was_running, compressed,
HEADER_SIZE = _HEADER.size  # cookieOffset, unused[14]: 92 bytes


class SavedState(BaseModel):
    """What a save image's header says, and where QEMU's stream starts in it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    xml: str
    cookie: str
    was_running: bool
    compressed: int
    stream_offset: int


def header_length(head: bytes) -> int:
    """How many bytes of the file `parse` needs: the header and its XML and cookie."""
    magic, _version, data_len = _HEADER.unpack_from(_check_size(head))[:3]
    _check_magic(magic)
    return HEADER_SIZE + int(data_len)


def parse(head: bytes) -> SavedState:
    """The header of a save image whose first `header_length` bytes are `head`."""
    magic, version, data_len, was_running, compressed, cookie_at = _HEADER.unpack_from(
        _check_size(head)
    )[:6]
    _check_magic(magic)
    if version != _VERSION:
        raise InvalidError(
            f"the memory state is of save format {version}, not {_VERSION}",
            hint="it was saved by another libvirt; the lab boots from its disks instead",
        )
    data = head[HEADER_SIZE : HEADER_SIZE + data_len]
    if len(data) < data_len:
        raise InvalidError("the memory state file is cut short", hint="take it again")
    xml_part = data[:cookie_at] if cookie_at else data
    cookie_part = data[cookie_at:] if cookie_at else b""
    return SavedState(
        xml=xml_part.split(b"\0", 1)[0].decode(),
        cookie=cookie_part.split(b"\0", 1)[0].decode(),
        was_running=bool(was_running),
        compressed=int(compressed),
        stream_offset=HEADER_SIZE + int(data_len),
    )


def read(stream: BinaryIO) -> SavedState:
    """The header of the save image `stream` is at the start of (it is read up to the
    stream; the stream is left there)."""
    head = stream.read(HEADER_SIZE)
    head += stream.read(header_length(head) - len(head))
    return parse(head)


def restore_header(saved: SavedState, xml: str, size: int | None = None) -> bytes:
    """The header, XML and cookie of a save image of `saved`'s stream for domain `xml`.
    `size`: the length it must have, NUL bytes after the cookie making up the rest (so
    it can be written over the head of a file whose stream starts there); InvalidError
    when it does not fit."""
    xml_bytes = xml.encode() + b"\0"
    cookie = saved.cookie.encode() + b"\0" if saved.cookie else b""
    padding = b""
    if size is not None:
        room = size - HEADER_SIZE - len(cookie)
        if len(xml_bytes) > room:
            raise InvalidError(
                f"the domain's description ({len(xml_bytes)} bytes) does not fit the"
                f" {room} bytes the memory state keeps for it",
                hint="the lab boots its machines from their disks instead",
            )
        padding = b"\0" * (room - len(xml_bytes))  # read as the end of the cookie or XML
    header = _HEADER.pack(
        MAGIC,
        _VERSION,
        len(xml_bytes) + len(cookie) + len(padding),
        int(saved.was_running),
        saved.compressed,
        len(xml_bytes) if cookie else 0,
        *([0] * 14),
    )
    return header + xml_bytes + cookie + padding


def _check_size(head: bytes) -> bytes:
    if len(head) < HEADER_SIZE:
        raise InvalidError("the memory state file is cut short", hint="take it again")
    return head


def _check_magic(magic: bytes) -> None:
    if magic == _PARTIAL:
        raise InvalidError(
            "the memory state was never completely saved", hint="take the baseline again"
        )
    if magic != MAGIC:
        raise InvalidError("not a libvirt QEMU memory state file", hint="take it again")
