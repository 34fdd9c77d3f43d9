"""The reliability log: one JSON object per line, summed up by `bench/reliability.py`.

Tests of faults, bad input and load call `record(...)` once per fault, input set or
load run. Without `LAB_RELIABILITY_LOG` in the environment nothing is written.
"""

from __future__ import annotations

import json
import os
from typing import Literal

Kind = Literal["input", "fault", "load"]


def record(kind: Kind, name: str, trials: int, lost: list[str]) -> None:
    """Append what was tried (`trials`: trials, inputs or requests) and what was lost."""
    path = os.environ.get("LAB_RELIABILITY_LOG")
    if not path:
        return
    line = json.dumps({"kind": kind, "name": name, "trials": trials, "lost": list(lost)})
    with open(path, "a", encoding="utf-8") as log:
        log.write(line + "\n")
