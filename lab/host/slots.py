"""Boot slots: how many machines boot at once on this host, across labs and processes.

An emulated (TCG) boot keeps a core busy from its start to its login, so labs brought up
side by side (the seats of a class, an API request beside a CLI one) share the host's
cores: more boots at once than cores only make every boot slower, until none answers in
time. A slot is an advisory `flock` on one of `slots` files in a directory of LAB_HOME;
the kernel frees it when its holder dies. A machine takes a slot before it starts and
keeps it until it is ready, so its boot timeout counts from its own start: the timeout
means "this machine is stuck", not "the host was busy".
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_POLL = 0.25  # seconds between looks for a free slot


@contextmanager
def boot_slot(
    directory: Path, slots: int, waiting: Callable[[], None] = lambda: None
) -> Iterator[int]:
    """Hold one of `slots` slots (its number) until the block ends; wait as long as it
    takes for one, calling `waiting` once if none is free at first."""
    directory.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        for number in range(max(1, slots)):
            fd = os.open(directory / f"{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield number
            finally:
                os.close(fd)
            return
        if not told:
            waiting()
            told = True
        time.sleep(_POLL)
