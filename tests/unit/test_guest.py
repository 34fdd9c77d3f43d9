import socket
import time
from pathlib import Path

import pytest

from lab import guest, keys


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_wait_ready_gives_up_at_its_deadline_with_the_last_error(tmp_path: Path) -> None:
    key = keys.ensure_keypair(tmp_path, comment="t")
    addr = guest.GuestAddress(host="127.0.0.1", port=_closed_port(), user="x", key=key.private)
    notes: list[str] = []
    started = time.monotonic()
    with pytest.raises(guest.GuestUnreachableError) as info:
        guest.wait_ready(addr, deadline_s=2, progress=notes.append)
    assert time.monotonic() - started < 5
    assert "did not answer on SSH within 2 s" in info.value.message
    assert "refused" in info.value.message.lower()
    assert notes and notes[0].startswith("waiting for SSH")
    assert "PRIVATE" not in info.value.message


def test_run_against_nothing_is_a_clear_error(tmp_path: Path) -> None:
    key = keys.ensure_keypair(tmp_path, comment="t")
    addr = guest.GuestAddress(host="127.0.0.1", port=_closed_port(), user="x", key=key.private)
    with pytest.raises(guest.GuestUnreachableError) as info:
        guest.run(addr, "true", timeout=2)
    assert "cannot reach x@127.0.0.1" in info.value.message
    assert info.value.hint
