"""One operation at a time per lab, across processes (CLI, API workers).

An advisory `flock` on `LAB_HOME/locks/LAB.lock`: the kernel drops it when the
holder dies, so a killed orchestrator never leaves a lab locked.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.errors import ConflictError
from lab.labs.naming import check_lab_name
from lab.settings import Settings

# Held while names are given out: a lab's management subnet is chosen and its record
# made, or a class's seat names are checked and the class recorded. Not a lab name (it
# has '_'), so no lab's lock is the same file.
NAMES = "_allocation"
_INTERNAL = frozenset({NAMES})


def lock_path(settings: Settings, lab: str) -> Path:
    """The lock file of lab `lab`; InvalidError for a name that is not a lab's, checked
    before anything is made: the name becomes part of a path."""
    if lab not in _INTERNAL:
        check_lab_name(lab)
    return settings.home / "locks" / f"{lab}.lock"


@contextmanager
def lab_lock(settings: Settings, lab: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the lab's lock; wait up to `wait` seconds, then ConflictError."""
    path = lock_path(settings, lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConflictError(
                        f"another operation on lab '{lab}' is running",
                        hint="wait for it to finish (`lab status` shows the lab), then try again",
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


def is_locked(settings: Settings, lab: str) -> bool:
    """Whether some process holds the lab's lock right now."""
    try:
        with lab_lock(settings, lab):
            return False
    except ConflictError:
        return True
