"""Classes: N seats (labs) of one profile, handled together."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.auth import STAFF, Action, CurrentUser, check_class, require
from api.deps import RunnerDep, SettingsDep
from api.routes._common import ACCEPTED, accepted, start_on_class
from api.schemas import (
    CheckpointCreate,
    ClassCreate,
    ClassPublic,
    ClassStatusPublic,
    OperationPublic,
    ResetRequest,
    SeatStatusPublic,
)
from lab.access.users import Role
from lab.base import Progress
from lab.classes import classes
from lab.classes.classes import SeatOutcome
from lab.profile import catalogue
from lab.templates import templates

router = APIRouter(prefix="/api/v1/classes", tags=["classes"])


@router.get("")
def list_classes(user: CurrentUser, settings: SettingsDep) -> list[ClassPublic]:
    """The classes the user may see (a trainer: the ones assigned to them)."""
    require(user, *STAFF, Role.TRAINER)
    return [
        ClassPublic.of(k)
        for k in classes.list_classes(settings)
        if user.role in STAFF or k.name in user.classes
    ]


@router.post("", status_code=202, responses=ACCEPTED)
def create_class(
    body: ClassCreate,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Bring up one lab per seat (an operation: 202), or clone every seat from a template;
    the class is recorded even if a seat fails. With `course`, the class runs that course
    (one written for the profile). A trainer may make one too: it is theirs at once."""
    require(user, *STAFF, Role.TRAINER)
    path = None if body.profile is None else catalogue.profile_path(settings, body.profile)
    if body.template is not None:  # 404 at once for no such template
        templates.get_template(settings, body.template)
    classes.check_new(settings, body.name, body.seats)  # 409 at once for a taken name
    if body.course is not None and path is not None:  # 404 or 422 at once for a bad course
        classes.check_course(settings, body.course, path, body.profile or "")
    classes.check_fits(settings, body.name, body.seats, path, body.template)  # 409: no room

    def work(progress: Progress) -> tuple[ClassPublic, list[SeatOutcome]]:
        record, outcomes = classes.create(
            settings,
            path,
            body.name,
            body.seats,
            progress,
            course=body.course,
            template=body.template,
            trainer=user.name if user.role is Role.TRAINER else None,
        )
        return ClassPublic.of(record), outcomes

    op = runner.submit("class-create", f"class/{body.name}", user.name, work)
    return accepted(response, op)


@router.get("/{name}")
def get_class(name: str, user: CurrentUser, settings: SettingsDep) -> ClassPublic:
    check_class(user, name, Action.READ)
    return ClassPublic.of(classes.get_class(settings, name))


@router.get("/{name}/status")
def class_status(name: str, user: CurrentUser, settings: SettingsDep) -> ClassStatusPublic:
    """Per seat: its lab's state, whether it is verified ready, its baseline and its
    last reset (when, mode, result, how long): the trainer's view of the class."""
    check_class(user, name, Action.READ)
    klass = classes.get_class(settings, name)
    return ClassStatusPublic(
        name=klass.name,
        profile=klass.profile,
        seats=[SeatStatusPublic.of(s) for s in classes.seat_statuses(settings, name)],
    )


@router.post("/{name}/reset", status_code=202, responses=ACCEPTED)
def reset_class(
    name: str,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
    body: ResetRequest | None = None,
) -> OperationPublic:
    """Reset every seat (to its baseline, or to its checkpoint `to`), verified; each
    seat's outcome is in the operation's result."""
    cold = body.cold if body else False
    to = body.to if body else None

    def work(progress: Progress) -> list[SeatOutcome]:
        return classes.reset(settings, name, cold=cold, to=to, progress=progress)

    return start_on_class(
        response,
        runner,
        settings,
        user,
        klass=name,
        action=Action.RESET,
        kind="class-reset",
        work=work,
    )


@router.post("/{name}/baseline", status_code=202, responses=ACCEPTED)
def baseline_class(
    name: str, response: Response, user: CurrentUser, settings: SettingsDep, runner: RunnerDep
) -> OperationPublic:

    def work(progress: Progress) -> list[SeatOutcome]:
        return classes.baseline(settings, name, progress)

    return start_on_class(
        response,
        runner,
        settings,
        user,
        klass=name,
        action=Action.BASELINE,
        kind="class-baseline",
        work=work,
    )


@router.post("/{name}/checkpoints", status_code=202, responses=ACCEPTED)
def checkpoint_class(
    name: str,
    body: CheckpointCreate,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Capture every seat's state now as the named checkpoint (each seat its own)."""

    def work(progress: Progress) -> list[SeatOutcome]:
        return classes.checkpoint(settings, name, body.name, progress)

    return start_on_class(
        response,
        runner,
        settings,
        user,
        klass=name,
        action=Action.BASELINE,
        kind="class-checkpoint",
        work=work,
    )


@router.delete("/{name}", status_code=202, responses=ACCEPTED)
def delete_class(
    name: str, response: Response, user: CurrentUser, settings: SettingsDep, runner: RunnerDep
) -> OperationPublic:
    """Take every seat down, then forget the class (staff, or the class's trainer at the
    end of term)."""

    def work(progress: Progress) -> list[SeatOutcome]:
        return classes.delete(settings, name, progress)

    return start_on_class(
        response,
        runner,
        settings,
        user,
        klass=name,
        action=Action.DELETE,
        kind="class-delete",
        work=work,
    )
