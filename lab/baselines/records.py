"""A reset's record in the state store: how, how long, and whether it ended ready."""

from __future__ import annotations

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
