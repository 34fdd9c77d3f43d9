"""A lab's record in the state store: its plan, where it is in its life, its last verdict."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from lab.host.model import LOCAL
from lab.labs.plan import LabPlan
from lab.profile import Profile


class LabStatus(StrEnum):
    """Where a lab is in its life. `creating`/`deleting` mark work in progress."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"


class VerificationSummary(BaseModel):
    """The last `lab test` verdict of a lab: only a verified lab may be baselined."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    at: datetime
    total: int
    failed: tuple[str, ...] = ()  # "role: test [machine]" of each failure


class LabRecord(BaseModel):
    """One deployed lab: its plan (every name it owns) and where it is in its life."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    profile: str
    profile_path: str
    status: LabStatus
    plan: LabPlan
    # disk layer (the machine's name; an appliance's further disks MACHINE.diskN) ->
    # digest of the base image it was created from: a rebuilt image moves the name to a
    # new digest, but a lab stays on the disk its overlays sit on.
    image_digests: dict[str, str] = {}
    class_name: str | None = None
    # The lab host it runs on (lab.host): every machine and network of a lab is on one.
    host: str = LOCAL
    # The template the lab was cloned from (lab.templates); None: built from its profile.
    template: str | None = None
    # The user who asked for the lab through the API (None: an engineer at the host, or
    # a class's seat). Recorded with the lab, before it exists, so that a per-user limit
    # counts the labs still being made.
    owner: str | None = None
    # The profile as brought up (roles, accounts, checks): what provisioning and
    # verification use, even if the profile file has changed since.
    spec: Profile | None = None
    provisioned_at: datetime | None = None
    verification: VerificationSummary | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def images(self) -> set[str]:
        return {image for m in self.plan.machines for _, image in m.images}
