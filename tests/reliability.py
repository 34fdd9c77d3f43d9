"""The reliability record: what the issue-8 tests tried and what (if anything) was lost.

Each test that probes faults, hostile input or load appends one JSON line to the file
named by `LAB_RELIABILITY_LOG` (nothing is written when it is unset):

    {"kind": "input", "name": "profile documents", "trials": 400, "lost": []}

`bench/reliability.py` reads the file and prints the summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

Kind = Literal["input", "fault", "load"]
LOG_ENV = "LAB_RELIABILITY_LOG"


def record(kind: Kind, name: str, trials: int, lost: list[str]) -> None:
    """Append one record (a whole line in one write, so parallel writers do not mix)."""
    target = os.environ.get(LOG_ENV)
    if not target:
        return
    line = json.dumps({"kind": kind, "name": name, "trials": trials, "lost": list(lost)})
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)
