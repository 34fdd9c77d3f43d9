"""libvirt's QEMU save image header: read, re-headed for a clone's domain, and refused
when it is not a complete save of the format libvirt writes."""

from __future__ import annotations

import struct

import pytest

from lab.driver.saved_state import (
    HEADER_SIZE,
    MAGIC,
    SavedState,
    header_length,
    parse,
    restore_header,
)
from lab.errors import InvalidError

XML = "<domain type='qemu'><name>hlx-x1.m1</name></domain>"
COOKIE = "<qemuMigration><name>hlx-x1.m1</name></qemuMigration>"
STREAM = b"QEVM\x00\x00\x00\x03" + bytes(range(256)) * 4


def _image(
    xml: str = XML,
    cookie: str = COOKIE,
    *,
    magic: bytes = MAGIC,
    version: int = 2,
    was_running: int = 1,
    compressed: int = 0,
    padding: int = 0,
) -> bytes:
    """A save image as libvirt writes one: header, XML + NUL, cookie + NUL, NUL padding
    (`data_len` counts it: libvirt leaves 64 KiB for an edited XML), then the stream."""
    xml_bytes = xml.encode() + b"\0"
    cookie_bytes = (cookie.encode() + b"\0" if cookie else b"") + b"\0" * padding
    header = struct.pack(
        "<16s5I14I",
        magic,
        version,
        len(xml_bytes) + len(cookie_bytes),
        was_running,
        compressed,
        len(xml_bytes) if cookie else 0,
        *([0] * 14),
    )
    return header + xml_bytes + cookie_bytes + STREAM


def test_header_is_92_bytes() -> None:
    assert HEADER_SIZE == 92


@pytest.mark.parametrize("padding", [0, 64 * 1024])
def test_a_save_image_parses(padding: int) -> None:
    image = _image(padding=padding)
    length = header_length(image[:HEADER_SIZE])
    saved = parse(image[:length])
    assert saved.xml == XML
    assert saved.cookie == COOKIE
    assert saved.was_running is True
    assert saved.compressed == 0
    assert saved.stream_offset == length
    assert image[saved.stream_offset :] == STREAM


def test_a_paused_save_without_cookie_parses() -> None:
    image = _image(cookie="", was_running=0, padding=100)
    saved = parse(image)
    assert (saved.xml, saved.cookie, saved.was_running) == (XML, "", False)
    assert image[saved.stream_offset :] == STREAM


def test_restore_header_puts_a_new_domain_over_the_same_stream() -> None:
    image = _image(padding=11)
    saved = parse(image)
    new_xml = "<domain type='qemu'><name>hlx-b2.m1</name><title>Ü &amp; ü</title></domain>"
    head = restore_header(saved, new_xml)
    clone = head + image[saved.stream_offset :]
    again = parse(clone[: header_length(clone)])
    assert again == SavedState(
        xml=new_xml,
        cookie=COOKIE,
        was_running=True,
        compressed=0,
        stream_offset=len(head),
    )
    assert clone[again.stream_offset :] == STREAM


def test_restore_header_without_cookie() -> None:
    saved = parse(_image(cookie=""))
    head = restore_header(saved, XML)
    again = parse(head)
    assert (again.xml, again.cookie, again.stream_offset) == (XML, "", len(head))


@pytest.mark.parametrize("cookie", [COOKIE, ""])
def test_a_header_of_a_given_size_goes_over_the_head_of_a_file_in_place(cookie: str) -> None:
    # A copy of a memory state on a lab server is re-headed for each clone by writing
    # over its head: the stream stays where it was.
    image = _image(cookie=cookie, padding=4096)
    saved = parse(image)
    longer = XML.replace("hlx-x1.m1", "hlx-a-much-longer-clone-name.m1")
    head = restore_header(saved, longer, size=saved.stream_offset)
    assert len(head) == saved.stream_offset
    clone = head + image[saved.stream_offset :]
    again = parse(clone[: header_length(clone)])
    assert (again.xml, again.cookie, again.stream_offset) == (longer, cookie, len(head))
    assert clone[again.stream_offset :] == STREAM


def test_a_header_that_does_not_fit_the_size_is_refused() -> None:
    saved = parse(_image())
    with pytest.raises(InvalidError, match="does not fit") as refused:
        restore_header(saved, XML + " " * 200, size=saved.stream_offset)
    assert "boots its machines from their disks" in (refused.value.hint or "")


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (_image(magic=b"LibvirtQemudPart"), "never completely saved"),
        (_image(magic=b"LibvirtQemudXXXX"), "not a libvirt QEMU memory state"),
        (b"\x7fELF" + bytes(200), "not a libvirt QEMU memory state"),
        (_image(version=3), "save format 3"),
        (_image()[:50], "cut short"),
        (_image()[: HEADER_SIZE + 10], "cut short"),
    ],
    ids=["partial", "foreign", "elf", "version", "short-header", "short-xml"],
)
def test_what_is_not_a_complete_save_is_refused_with_a_hint(image: bytes, words: str) -> None:
    with pytest.raises(InvalidError) as raised:
        parse(image)
    assert words in raised.value.message
    assert raised.value.hint


@pytest.mark.parametrize(
    "image",
    [_image(magic=b"LibvirtQemudPart"), _image(magic=b"Something-else!!"), b"short"],
)
def test_header_length_refuses_what_parse_refuses(image: bytes) -> None:
    with pytest.raises(InvalidError):
        header_length(image)


def test_restore_header_keeps_how_the_stream_was_saved() -> None:
    saved = parse(_image(was_running=0, compressed=2))
    again = parse(restore_header(saved, XML))
    assert (again.was_running, again.compressed) == (False, 2)
