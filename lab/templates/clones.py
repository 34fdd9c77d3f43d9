"""A lab cloned from a template. (Stub: the body comes next.)"""

from __future__ import annotations

from lab.access.users import User
from lab.base import Progress, quiet
from lab.labs.records import LabRecord
from lab.settings import Settings


def clone(
    settings: Settings,
    template: str,
    name: str,
    progress: Progress = quiet,
    *,
    owner: User | None = None,
) -> LabRecord:
    """Lab `name` from template `template`, verified: an ordinary lab from then on."""
    raise NotImplementedError


def check_new_clone(
    settings: Settings, template: str, name: str, owner: User | None = None
) -> None:
    """What can be refused at once (an API answers before accepting the operation): no
    such template, a bad or taken lab name, a name `owner` may not take."""
    raise NotImplementedError
