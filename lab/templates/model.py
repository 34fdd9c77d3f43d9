"""A template: a verified lab's frozen disk layers and memory states, kept for other labs.

The files live in the template store (`lab.templates.store`), content-addressed like
images; a template's manifest names them by digest, with the plan and profile of the lab
it was taken from (its machines' MAC addresses, management addresses and device layout
are what the memory states remember) and the verification that lab had passed.
"""

from __future__ import annotations

import re
from datetime import datetime

from lab.base import Frozen
from lab.labs.plan import LabPlan
from lab.labs.records import VerificationSummary
from lab.profile import Profile

TEMPLATE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
TEMPLATE_RULE = "use 1 to 40 lowercase letters, digits and '-', not starting or ending with '-'"


class TemplateLayer(Frozen):
    """One frozen disk layer: its layer name (the machine's name, or MACHINE.diskN)."""

    layer: str
    digest: str


class TemplateMachine(Frozen):
    name: str
    layers: tuple[TemplateLayer, ...]
    memory: str | None = None  # digest of its memory state; None: it was not running
    nvram: str | None = None  # digest of a UEFI machine's variable store


class Template(Frozen):
    """A template as its manifest records it."""

    name: str
    digest: str  # sha256 of what it holds (every file's digest, the plan, the profile)
    source_lab: str
    profile: str
    created_at: datetime
    plan: LabPlan  # the source lab's plan, as its memory states remember it
    spec: Profile | None = None  # the profile as the source lab was brought up from it
    profile_path: str = ""
    image_digests: dict[str, str]  # layer -> the base image its frozen layer sits on
    verification: VerificationSummary | None = None
    machines: tuple[TemplateMachine, ...]
    size: int  # bytes its files take on disk

    @property
    def memory(self) -> tuple[str, ...]:
        """The machines whose memory state it holds."""
        return tuple(m.name for m in self.machines if m.memory is not None)


class TemplateInfo(Frozen):
    """A template as lists show it."""

    name: str
    digest: str
    profile: str
    source_lab: str
    created_at: datetime
    machines: tuple[str, ...]
    memory: tuple[str, ...]
    size: int
    used_by: tuple[str, ...]  # labs cloned from it (a class's seats among them)
