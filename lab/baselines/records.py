"""A reset's record in the state store: how, how long, and whether it ended ready."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ResetMode(StrEnum):
    MEMORY = "memory"  # fresh overlay over the baseline's disk layer + its saved memory
    COLD = "cold"  # fresh overlay, boot


class ResetRecord(BaseModel):
    """One reset of one lab: how, how long, and whether it ended verified-ready."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lab: str
    mode: ResetMode
    ok: bool
    seconds: float
    started_at: datetime
    note: str = ""  # e.g. why a memory reset fell back to cold
    to: str | None = None  # the checkpoint it went to; None: the baseline


# A checkpoint's name: a file name inside the lab's directory, and a word in URLs.
CHECKPOINT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
CHECKPOINT_RULE = (
    "use 1 to 40 lowercase letters, digits and hyphens, not starting or ending with one"
)
