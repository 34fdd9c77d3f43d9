"""A class's record in the state store: its profile and seats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ClassRecord(BaseModel):
    """A class: N labs ("seats") of one profile, named CLASS-01 ... CLASS-NN."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    profile: str
    profile_path: str
    seats: tuple[str, ...]
    created_at: datetime
    course: str | None = None  # the course (courses/NAME.yaml) the class runs, if any
    template: str | None = None  # the template its seats were cloned from, if any
