"""Running out of disk space under LAB_HOME, said as such.

A full file system shows up in many guises: `OSError(ENOSPC)` from our own writes,
qemu-img's or libvirt's "No space left on device", SQLite's "database or disk is
full". `space_guard` turns each into one `HostError` naming the file system, what
was being done, and what to do, instead of a traceback or a misleading hint.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.errors import HostError, LabError
from lab.host.facts import nearest_existing

_WORDS = ("no space left on device", "disk is full", "disk quota exceeded")


def is_no_space(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the file system is full."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(seen, LabError | sqlite3.Error) and any(
            w in str(seen).lower() for w in _WORDS
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(nearest_existing(path)).free


@contextmanager
def space_guard(path: Path, doing: str, left_as: str) -> Iterator[None]:
    """Re-raise a full file system under `path` as a HostError saying so, what was
    being done, and (`left_as`) what state the failure left things in."""
    try:
        yield
    except HostError:
        raise
    except (OSError, LabError, sqlite3.Error) as exc:
        if not is_no_space(exc):
            raise
        left = f" ({free_bytes(path) / 2**20:.1f} MiB free now)"
        said = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # What failed (a command's first line names it) and how (its last line).
        detail = f": {' '.join(dict.fromkeys([said[0], said[-1]]))[:500]}" if said else ""
        raise HostError(
            f"no space left on the file system of {path} while {doing}{left}{detail}; {left_as}",
            hint=f"free space there (`df -h {path}`) or point LAB_HOME at a larger file system,"
            " then try again",
        ) from exc
