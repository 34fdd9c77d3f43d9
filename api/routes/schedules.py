"""Scheduled class resets: a trainer schedules "reset my class at 08:30" and sees the result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.auth import Action, CurrentUser, check_class
from api.deps import SettingsDep
from api.routes._common import ROW_ID
from api.schemas import ScheduleCreate, SchedulePublic
from lab.classes import classes
from lab.classes.schedules import ScheduleStore
from lab.errors import NotFoundError

router = APIRouter(prefix="/api/v1/classes", tags=["classes"])


def _store(request: Request) -> ScheduleStore:
    store: ScheduleStore = request.app.state.schedules
    return store


@router.post("/{name}/schedules", status_code=201)
def add_schedule(
    name: str, body: ScheduleCreate, request: Request, user: CurrentUser, settings: SettingsDep
) -> SchedulePublic:
    """Reset the class at a given time (with a time zone offset). The reset runs as an
    operation of the service; the schedule then names it (`operation_id`)."""
    check_class(user, name, Action.RESET)
    classes.get_class(settings, name)
    return SchedulePublic.of(_store(request).add(name, body.at, user.name, cold=body.cold))


@router.get("/{name}/schedules")
def list_schedules(
    name: str, request: Request, user: CurrentUser, settings: SettingsDep
) -> list[SchedulePublic]:
    """The class's schedules, soonest first, with their status and operation."""
    check_class(user, name, Action.READ)
    classes.get_class(settings, name)
    return [SchedulePublic.of(s) for s in _store(request).list_for(name)]


@router.delete("/{name}/schedules/{schedule_id}")
def cancel_schedule(
    name: str,
    schedule_id: Annotated[int, Path(ge=1, le=ROW_ID)],
    request: Request,
    user: CurrentUser,
) -> SchedulePublic:
    """Cancel a schedule that has not started yet (409 once it has)."""
    check_class(user, name, Action.RESET)
    store = _store(request)
    schedule = store.get(schedule_id)
    if schedule.class_name != name:
        raise NotFoundError(f"class '{name}' has no schedule {schedule_id}")
    return SchedulePublic.of(store.cancel(schedule_id))
