"""A stand-in for the course API, for trying the page's course views in a browser without
guests: one class `c1` of two seats running a course of three tasks. A check fails, then
passes (and moves on); the board's event stream sends a few boards and then drops, so
the page has to reconnect. The course's instructions carry hostile markup that the page
must not let in. Only what the course views and the pages around them ask for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api.routes.web import HEADERS, WEB

SEAT = "c1-01"
OTHER = "c1-02"
TASKS: list[dict[str, Any]] = [
    {"id": "share", "title": {"uk": "Спільна тека", "en": "A shared folder"}, "machine": "m1"},
    {"id": "user", "title": {"uk": "Користувач", "en": None}, "machine": "m1"},
    {"id": "web", "title": {"uk": "Веб-сторінка", "en": "A web page"}, "machine": "m1"},
]
POINTS = {"share": 10, "user": 20, "web": 10}
HINTS = [{"uk": "Подивіться на mkdir -p", "en": "Look at mkdir -p"}, {"uk": "І chmod", "en": None}]
HOSTILE = (
    "<script>window.PWNED = 1</script><img src=x onerror='window.PWNED = 2' alt='a picture'>"
    '<a href="javascript:window.PWNED = 3">a bad link</a><style>body { display: none }</style>'
)
INSTRUCTIONS = {
    "uk": "<h1>Тека</h1><p>Створіть теку <code>/srv/shares/cnap</code>.</p>"
    "<pre><code>mkdir -p /srv/shares/cnap\n</code></pre>" + HOSTILE,
    "en": "<p>Make the folder <code>/srv/shares/cnap</code>.</p>"
    '<p><a href="https://example.org/">more</a></p>',
}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class Course:
    """What the seat has done so far."""

    started: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=3))
    index: int = 0
    checks: int = 0
    hints: int = 0
    attempts: dict[str, int] = field(default_factory=dict)
    passed: dict[str, str] = field(default_factory=dict)
    boards: int = 0  # boards sent by the event stream
    streams: int = 0  # event streams opened

    def state(self, task: str) -> str:
        if task in self.passed:
            return "done"
        return "failing" if self.attempts.get(task) else "not-started"

    def view(self) -> dict[str, Any]:
        current = TASKS[self.index] if self.index < len(TASKS) else None
        tasks = [
            {
                **t,
                "points": POINTS[t["id"]],
                "state": self.state(t["id"]),
                "attempts": self.attempts.get(t["id"], 0),
                "hints_taken": self.hints if t is current else 0,
                "hints_total": len(HINTS),
                "passed_at": self.passed.get(t["id"]),
                "last": None,
            }
            for t in TASKS
        ]
        task = None
        if current is not None:
            task = {
                **current,
                "points": POINTS[current["id"]],
                "instructions_html": INSTRUCTIONS,
                "hints": HINTS[: self.hints],
                "hints_left": len(HINTS) - self.hints,
                "started_at": _iso(self.started),
                "number": self.index + 1,
            }
        return {
            "class_name": "c1",
            "seat": SEAT,
            "course": "intro",
            "title": {"uk": "Вступ до адміністрування", "en": "Introduction to administration"},
            "points": sum(POINTS.values()),
            "earned": sum(POINTS[t] for t in self.passed),
            "current": current["id"] if current else None,
            "tasks": tasks,
            "task": task,
        }

    def board(self) -> dict[str, Any]:
        mine = self.view()
        other_state = "failing" if self.boards % 2 else "done"
        seats = [
            {
                "seat": SEAT,
                "trainees": ["Олена Петренко"],
                "current": mine["current"],
                "task_started_at": _iso(self.started),
                "earned": mine["earned"],
                "tasks": [
                    {
                        "id": t["id"],
                        "state": t["state"],
                        "attempts": t["attempts"],
                        "hints_taken": t["hints_taken"],
                        "first_at": None,
                        "passed_at": t["passed_at"],
                        "seconds_on_task": 125.0 if t["state"] == "done" else None,
                    }
                    for t in mine["tasks"]
                ],
            },
            {
                "seat": OTHER,
                "trainees": [],
                "current": "share",
                "task_started_at": _iso(self.started),
                "earned": 0,
                "tasks": [
                    {
                        "id": "share",
                        "state": other_state,
                        "attempts": self.boards,
                        "hints_taken": 1,
                        "first_at": None,
                        "passed_at": None,
                        "seconds_on_task": 61.0,
                    }
                ],
            },
        ]
        return {
            "class_name": "c1",
            "course": "intro",
            "title": mine["title"],
            "points": mine["points"],
            "tasks": [
                {"id": t["id"], "title": t["title"], "points": POINTS[t["id"]]} for t in TASKS
            ],
            "seats": seats,
        }


OPERATION = {
    "id": "op1",
    "kind": "course-restart",
    "target": f"lab/{SEAT}",
    "status": "running",
    "events_url": "/api/v1/operations/op1/events",
    "url": "/api/v1/operations/op1",
}


def stub_app(course: Course) -> Starlette:
    """The page's files and a stand-in of the API around `course`."""

    async def login(request: Request) -> Response:
        name = (await request.json())["name"]
        role = "trainer" if name.startswith("trainer") else "trainee"
        return JSONResponse({"token": f"token-{name}", "user": {"name": name, "role": role}})

    async def check(request: Request) -> Response:
        await asyncio.sleep(0.8)  # a check takes a while: the page says it runs
        task = TASKS[course.index]["id"]
        course.checks += 1
        ok = course.checks % 2 == 0
        course.attempts[task] = course.attempts.get(task, 0) + 1
        advanced = None
        if ok:
            course.passed[task] = _iso(datetime.now(UTC))
            course.index += 1
            course.hints = 0
            advanced = TASKS[course.index]["id"] if course.index < len(TASKS) else None
        service = {"uk": "smbd працює", "en": None} if ok else {"uk": "smbd не працює", "en": None}
        checks = [
            {
                "kind": "file",
                "machine": "m1",
                "ok": True,
                "message": {"uk": "Тека є", "en": "It is there"},
            },
            {"kind": "service", "machine": "m1", "ok": ok, "message": service},
        ]
        return JSONResponse(
            {
                "task": task,
                "ok": ok,
                "at": _iso(datetime.now(UTC)),
                "seconds": 0.8,
                "checks": checks,
                "advanced_to": advanced,
                "note": None,
            }
        )

    def hint(request: Request) -> Response:
        course.hints += 1
        return JSONResponse(
            {
                "task": TASKS[course.index]["id"],
                "number": course.hints,
                "hint": HINTS[course.hints - 1],
                "hints_left": len(HINTS) - course.hints,
            }
        )

    async def operation_events(request: Request) -> Response:
        async def events() -> AsyncIterator[str]:
            for n in range(3):
                await asyncio.sleep(0.2)
                line = {"at": _iso(datetime.now(UTC)), "subject": "m1", "message": f"step {n}"}
                yield f"id: {n + 1}\nevent: progress\ndata: {json.dumps(line)}\n\n"
            yield f"event: end\ndata: {json.dumps({**OPERATION, 'status': 'succeeded'})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def board_events(request: Request) -> Response:
        course.streams += 1

        async def events() -> AsyncIterator[str]:
            yield f"event: board\ndata: {json.dumps(course.board())}\n\n"
            for _ in range(3):
                await asyncio.sleep(0.7)
                yield ": heartbeat\n\n"
                course.boards += 1
                yield f"event: board\ndata: {json.dumps(course.board())}\n\n"
            # and then the stream drops: the page opens it again

        return StreamingResponse(events(), media_type="text/event-stream")

    def page(request: Request) -> Response:
        return FileResponse(Path(WEB) / "index.html", headers=HEADERS)

    def answer(value: Any, status: int = 200) -> Any:
        return lambda request: JSONResponse(value() if callable(value) else value, status)

    lab = {
        "name": SEAT,
        "status": "running",
        "profile": "classroom",
        "machines": [{"name": "m1", "managed": True, "graphics": False}],
    }
    seats = [
        {"seat": seat, "status": "running", "ready": True, "last_reset": None}
        for seat in (SEAT, OTHER)
    ]
    klass = {
        "name": "c1",
        "profile": "classroom",
        "seats": [SEAT, OTHER],
        "created_at": _iso(course.started),
    }
    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/v1/login", login, methods=["POST"]),
            Route("/api/v1/logout", lambda request: Response(status_code=204), methods=["POST"]),
            Route("/api/v1/me", answer({"labs": [SEAT], "classes": ["c1"]})),
            Route(f"/api/v1/labs/{SEAT}", answer(lab)),
            Route(f"/api/v1/labs/{SEAT}/resets", answer([])),
            Route(f"/api/v1/labs/{SEAT}/course", answer(course.view)),
            Route(f"/api/v1/labs/{SEAT}/course/check", check, methods=["POST"]),
            Route(f"/api/v1/labs/{SEAT}/course/hint", hint, methods=["POST"]),
            Route("/api/v1/labs/{seat}/course/restart", answer(OPERATION, 202), methods=["POST"]),
            Route("/api/v1/operations/op1/events", operation_events),
            Route("/api/v1/operations", answer([])),
            Route("/api/v1/classes", answer([klass])),
            Route("/api/v1/classes/c1", answer({**klass, "course": "intro"})),
            Route("/api/v1/classes/c1/status", answer({"profile": "classroom", "seats": seats})),
            Route("/api/v1/classes/c1/schedules", answer([])),
            Route("/api/v1/classes/c1/board", answer(course.board)),
            Route("/api/v1/classes/c1/board/events", board_events),
            Route(
                "/api/v1/classes/c1/results.csv",
                lambda request: Response("seat,earned\nc1-01,10\n", media_type="text/csv"),
            ),
            Route(
                "/api/v1/classes/c1/results.pdf",
                lambda request: Response(
                    b"%PDF-1.4 " + request.query_params.get("lang", "").encode(),
                    media_type="application/pdf",
                ),
            ),
            Mount("/static", StaticFiles(directory=WEB)),
        ]
    )
