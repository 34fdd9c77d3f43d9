"""Courses: the catalogue, a seat's course (its task, checks, hints, a fresh start of the
task), and a class's board, live and as CSV or PDF results. Every rule is a use case's
(lab.courses.runs); the routes check who asks and shape the answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api import results_pdf
from api.auth import STAFF, Action, CurrentUser, check_class, check_lab, require
from api.deps import RunnerDep, SettingsDep
from api.errors import error_responses
from api.routes._common import ACCEPTED, start_on_lab
from api.schemas import (
    AttemptPublic,
    BoardPublic,
    CoursePublic,
    HintPublic,
    OperationPublic,
    ResetPublic,
    SeatCoursePublic,
    TaskRestartRequest,
)
from lab.access.users import Role
from lab.base import Progress
from lab.courses import catalogue, runs
from lab.errors import LabError
from lab.settings import Settings

router = APIRouter(tags=["courses"])
POLL = 0.5  # seconds between looks at the board's counters
HEARTBEAT = 15.0  # seconds of quiet before a comment keeps the stream open
STREAM_SECONDS = 3600.0  # a board stream ends after this; EventSource opens a new one
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/api/v1/courses")
def list_courses(user: CurrentUser, settings: SettingsDep) -> list[CoursePublic]:
    """The courses of the catalogue (LAB_COURSES_DIR), for staff and trainers."""
    require(user, *STAFF, Role.TRAINER)
    return [
        CoursePublic.of_course(found.name, catalogue.get_course(settings, found.name))
        for found in catalogue.list_courses(settings)
        if found.valid  # `lab course list` shows the broken ones, with their problems
    ]


@router.get("/api/v1/courses/{name}", responses=error_responses(404, 422))
def get_course(name: str, user: CurrentUser, settings: SettingsDep) -> CoursePublic:
    require(user, *STAFF, Role.TRAINER)
    return CoursePublic.of_course(name, catalogue.get_course(settings, name))


@router.get("/api/v1/labs/{name}/course", responses=error_responses(404))
def seat_course(name: str, user: CurrentUser, settings: SettingsDep) -> SeatCoursePublic:
    """The seat's course: every task's state, and the current task with its
    instructions (HTML) and the hints revealed so far. 404 when its class runs none."""
    check_lab(settings, user, name, Action.READ)
    return SeatCoursePublic.of_seat(runs.seat_course(settings, name))


@router.post("/api/v1/labs/{name}/course/check", responses=error_responses(404, 409))
def check(name: str, user: CurrentUser, settings: SettingsDep) -> AttemptPublic:
    """Run the current task's checks now (seconds) and record the attempt; a pass moves
    the seat to the next task. 409 while another check of the seat runs."""
    check_lab(settings, user, name, Action.READ)
    return AttemptPublic.of(runs.check(settings, name))


@router.post("/api/v1/labs/{name}/course/hint", responses=error_responses(404, 409))
def hint(name: str, user: CurrentUser, settings: SettingsDep) -> HintPublic:
    """Reveal the current task's next hint (the board counts them). 409: none left."""
    check_lab(settings, user, name, Action.READ)
    return HintPublic.of(runs.hint(settings, name))


@router.post("/api/v1/labs/{name}/course/restart", status_code=202, responses=ACCEPTED)
def restart_task(
    name: str,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
    body: TaskRestartRequest | None = None,
) -> OperationPublic:
    """Put the seat's lab back to the start of its current task, or of an earlier task it
    has reached (`task`), which becomes current again (an operation, like a reset): the
    task's checkpoint, else the one saved when the task began, else the baseline."""
    check_lab(settings, user, name, Action.RESET)
    runs.course_of_seat(settings, name)  # 404 at once for a seat without a course
    task = body.task if body else None

    def work(progress: Progress) -> ResetPublic:
        return ResetPublic.of(runs.restart_task(settings, name, progress, task=task))

    return start_on_lab(
        response,
        runner,
        settings,
        user,
        lab=name,
        action=Action.RESET,
        kind="task-restart",
        work=work,
    )


@router.get("/api/v1/classes/{name}/board", responses=error_responses(404))
def board(name: str, user: CurrentUser, settings: SettingsDep) -> BoardPublic:
    """Seats x tasks: each cell's state, attempts, hints, times; each seat's trainees,
    current task and points."""
    check_class(user, name, Action.READ)
    return BoardPublic.of_board(runs.board(settings, name))


@router.get(
    "/api/v1/classes/{name}/board/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **error_responses(404)},
)
def board_events(name: str, user: CurrentUser, settings: SettingsDep) -> StreamingResponse:
    """The board as server-sent events: `board` at once, and again whenever the class's
    results or seats change; a comment every 15 s of quiet keeps the stream open."""
    check_class(user, name, Action.READ)
    first = BoardPublic.of_board(runs.board(settings, name))  # 404 before the stream
    return StreamingResponse(
        _board_stream(settings, name, first),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


async def _board_stream(settings: Settings, name: str, first: BoardPublic) -> AsyncIterator[str]:
    seen = await anyio.to_thread.run_sync(runs.board_generation, settings)
    yield _board_event(first)
    started = last = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        await anyio.sleep(POLL)
        now = await anyio.to_thread.run_sync(runs.board_generation, settings)
        if now != seen:
            seen = now
            try:
                made = await anyio.to_thread.run_sync(runs.board, settings, name)
            except LabError:  # the class is gone
                yield "event: end\ndata: {}\n\n"
                return
            yield _board_event(BoardPublic.of_board(made))
            last = time.monotonic()
        elif time.monotonic() - last >= HEARTBEAT:
            yield ": still here\n\n"
            last = time.monotonic()


def _board_event(board: BoardPublic) -> str:
    return f"event: board\ndata: {board.model_dump_json()}\n\n"


@router.get(
    "/api/v1/classes/{name}/results.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV"}, **error_responses(404)},
)
def results_csv(name: str, user: CurrentUser, settings: SettingsDep) -> Response:
    """The results, one row per seat and task (UTF-8 with a byte order mark)."""
    check_class(user, name, Action.READ)
    text = runs.results_csv(runs.board(settings, name))
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get(
    "/api/v1/classes/{name}/results.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF"},
        **error_responses(404),
    },
)
def results_pdf_route(
    name: str,
    user: CurrentUser,
    settings: SettingsDep,
    lang: Annotated[Literal["uk", "en"], Query(description="The PDF's language")] = "uk",
) -> Response:
    """The results to print: per seat its trainees, tasks, states, attempts, points."""
    check_class(user, name, Action.READ)
    made = runs.board(settings, name)
    return Response(
        results_pdf.render(made, lang),
        media_type="application/pdf",
        headers={**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )
