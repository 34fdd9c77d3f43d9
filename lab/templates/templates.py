"""Use cases of templates: take one from a verified lab, list, show and delete them.

(Stub: the bodies come next.)
"""

from __future__ import annotations

from lab.base import Progress, quiet
from lab.settings import Settings
from lab.templates.model import Template, TemplateInfo


def create(settings: Settings, lab: str, name: str, progress: Progress = quiet) -> Template:
    """A template `name` from lab `lab`'s baseline in force. ConflictError when the lab
    is not verified or has no baseline, or a template of that name exists."""
    raise NotImplementedError


def list_templates(settings: Settings) -> list[TemplateInfo]:
    raise NotImplementedError


def get_template(settings: Settings, name: str) -> TemplateInfo:
    """NotFoundError when there is none of that name."""
    raise NotImplementedError


def delete(settings: Settings, name: str) -> None:
    """Remove the template; ConflictError (naming the labs) while a lab is cloned from it."""
    raise NotImplementedError
