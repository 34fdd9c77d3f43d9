"""A full file system is reported as such, whatever raised it (/dev/full: a real ENOSPC)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lab.commands import run
from lab.errors import CommandError, HostError, NotFoundError
from lab.host.space import is_no_space, space_guard


def test_a_write_to_a_full_device_becomes_a_host_error_with_a_hint(tmp_path: Path) -> None:
    with (
        pytest.raises(HostError) as info,
        space_guard(tmp_path, "writing a key", "nothing was kept"),
        open("/dev/full", "w") as full,
    ):
        full.write("x")
        full.flush()
    message = info.value.message
    assert message.startswith(f"no space left on the file system of {tmp_path} while writing")
    assert "MiB free now" in message and message.endswith("nothing was kept")
    assert f"df -h {tmp_path}" in info.value.hint


def test_a_command_that_runs_out_of_space_names_itself() -> None:
    with pytest.raises(CommandError) as failed:
        run(["dd", "if=/dev/zero", "of=/dev/full", "bs=4k", "count=1"])
    assert is_no_space(failed.value)
    with pytest.raises(HostError) as info, space_guard(Path("/"), "copying", "as before"):
        raise failed.value
    assert "`dd if=/dev/zero of=/dev/full bs=4k count=1` failed" in info.value.message


def test_sqlite_full_is_recognised() -> None:
    assert is_no_space(sqlite3.OperationalError("database or disk is full"))


def test_other_errors_pass_unchanged(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError), space_guard(tmp_path, "x", "y"):
        raise NotFoundError("no such lab 'a'")
    with pytest.raises(PermissionError), space_guard(tmp_path, "x", "y"):
        raise PermissionError(13, "Permission denied")
