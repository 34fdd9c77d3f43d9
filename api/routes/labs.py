"""Labs: create from a profile, list, get, delete, power, baseline, reset."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.auth import STAFF, Action, CurrentUser, check_lab, may_see_lab, require
from api.deps import RunnerDep, SettingsDep, StoresDep
from api.routes._common import ACCEPTED, accepted
from api.schemas import (
    LabCreate,
    LabPower,
    LabPublic,
    LabStatusPublic,
    OperationPublic,
    ResetPublic,
    ResetRequest,
)
from lab import catalogue, service
from lab import reset as resets
from lab.deploy import Progress
from lab.users import AssignmentKind, Role

router = APIRouter(prefix="/api/v1/labs", tags=["labs"])


@router.get("")
def list_labs(user: CurrentUser, settings: SettingsDep) -> list[LabPublic]:
    """The labs the user may see (staff: all of them)."""
    return [
        LabPublic.from_record(lab)
        for lab in service.list_labs(settings)
        if may_see_lab(settings, user, lab.name)
    ]


@router.post("", status_code=202, responses=ACCEPTED)
def create_lab(
    body: LabCreate,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    stores: StoresDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Bring a catalogue profile up as a lab (an operation: 202)."""
    require(user, *STAFF, Role.TESTER)
    path, name = catalogue.new_lab(settings, body.profile, body.name)
    stores.users.claim_lab(name, user)

    def work(progress: Progress) -> LabPublic:
        return LabPublic.from_record(service.up(settings, path, name, progress))

    return accepted(response, runner.submit("up", f"lab/{name}", user.name, work, lock=name))


@router.get("/{name}")
def get_lab(name: str, user: CurrentUser, settings: SettingsDep) -> LabPublic:
    check_lab(settings, user, name, Action.READ)
    return LabPublic.from_record(service.get_lab(settings, name))


@router.get("/{name}/status")
def lab_status(name: str, user: CurrentUser, settings: SettingsDep) -> LabStatusPublic:
    """Live: each machine's power state, addresses, and whether SSH and the agent answer."""
    check_lab(settings, user, name, Action.READ)
    return LabStatusPublic.from_report(service.status(settings, name))


@router.get("/{name}/resets")
def lab_resets(
    name: str, user: CurrentUser, settings: SettingsDep, stores: StoresDep
) -> list[ResetPublic]:
    """The lab's latest resets, newest first: mode, result, duration."""
    check_lab(settings, user, name, Action.READ)
    service.get_lab(settings, name)
    return [ResetPublic.from_record(r) for r in stores.state.resets(name)]


@router.delete("/{name}", status_code=202, responses=ACCEPTED)
def delete_lab(
    name: str,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    stores: StoresDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Remove the lab entirely (an operation: 202)."""
    check_lab(settings, user, name, Action.DELETE)
    service.get_lab(settings, name)

    def work(progress: Progress) -> list[str]:
        removed = service.down(settings, name, progress)
        stores.users.unassign_target(AssignmentKind.LAB, name)
        return removed

    return accepted(response, runner.submit("down", f"lab/{name}", user.name, work, lock=name))


@router.post("/{name}/power", status_code=202, responses=ACCEPTED)
def power(
    name: str,
    body: LabPower,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Start (and wait until every machine answers) or stop the lab's machines."""
    check_lab(settings, user, name, Action.POWER)
    service.get_lab(settings, name)
    use_case = service.start if body.action == "start" else service.stop

    def work(progress: Progress) -> LabPublic:
        return LabPublic.from_record(use_case(settings, name, progress))

    op = runner.submit(body.action, f"lab/{name}", user.name, work, lock=name)
    return accepted(response, op)


@router.post("/{name}/baseline", status_code=202, responses=ACCEPTED)
def baseline(
    name: str, response: Response, user: CurrentUser, settings: SettingsDep, runner: RunnerDep
) -> OperationPublic:
    """Capture the lab's clean state (disk layer + memory) and verify it."""
    check_lab(settings, user, name, Action.BASELINE)
    service.get_lab(settings, name)

    def work(progress: Progress) -> object:
        return resets.baseline(settings, name, progress)

    return accepted(response, runner.submit("baseline", f"lab/{name}", user.name, work, lock=name))


@router.post("/{name}/reset", status_code=202, responses=ACCEPTED)
def reset(
    name: str,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
    body: ResetRequest | None = None,
) -> OperationPublic:
    """Put the lab back to its baseline, verified. 409 while another operation holds it."""
    check_lab(settings, user, name, Action.RESET)
    service.get_lab(settings, name)
    cold = body.cold if body else False

    def work(progress: Progress) -> ResetPublic:
        return ResetPublic.from_record(resets.reset(settings, name, cold=cold, progress=progress))

    return accepted(response, runner.submit("reset", f"lab/{name}", user.name, work, lock=name))
