"""Small types shared across the lab: the frozen base model and the progress callback."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

Progress = Callable[[str, str], None]  # (subject: "lab" or a machine name, message)


def quiet(_subject: str, _message: str) -> None:
    """The progress callback that reports nothing."""
    return None


class Frozen(BaseModel):
    """A model that cannot change once made and refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")
