"""The host's boot slots (lab.host.slots) hold across processes and free with their holder."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from lab.host.slots import boot_slot

# Another process (another `lab` command, the API) holding slot 0 for a while.
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_elsewhere(directory: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding slot 0 for `seconds`, once it says it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory / "0.lock"), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_slot_held_by_another_process_is_waited_for(tmp_path: Path) -> None:
    holder = hold_elsewhere(tmp_path, 1.0)
    waited: list[bool] = []
    started = time.monotonic()
    with boot_slot(tmp_path, 1, lambda: waited.append(True)) as number:
        took = time.monotonic() - started
    holder.wait(timeout=10)
    assert number == 0 and waited == [True]
    assert took >= 0.5  # it waited for the other process to let go


def test_a_free_slot_is_taken_at_once_and_the_others_count(tmp_path: Path) -> None:
    with boot_slot(tmp_path, 2) as first, boot_slot(tmp_path, 2) as second:
        assert {first, second} == {0, 1}
    waited: list[bool] = []
    with boot_slot(tmp_path, 2, lambda: waited.append(True)) as number:
        assert number == 0 and not waited  # both were given back


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    holder = hold_elsewhere(tmp_path, 60)
    holder.kill()
    holder.wait(timeout=10)
    started = time.monotonic()
    with boot_slot(tmp_path, 1):
        assert time.monotonic() - started < 1.0
