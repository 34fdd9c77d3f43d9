"""What a round of checks found: one `CheckOutcome` per check, one `TaskOutcome` per task.

Frozen and plain (kinds, names, texts, times), so the results store, the API and the web
page take them as they are. Messages are a trainee's words in Ukrainian and English
(`Text`), saying what was found; never a stack trace, a key or a password.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from lab.base import Frozen
from lab.courses.model import CheckKind, Text


class CheckOutcome(Frozen):
    kind: CheckKind
    machine: str = Field(description="The machine the check is about")
    ok: bool
    message: Text = Field(description="What was found, in a trainee's words")


class TaskOutcome(Frozen):
    task: str = Field(description="The task's id")
    ok: bool = Field(description="Every check of the task passed")
    checks: tuple[CheckOutcome, ...] = Field(description="In the order of the task's checks")
    at: datetime = Field(description="When the round that checked it began (UTC)")
    seconds: float = Field(description="From the round's start until its last check ended")
