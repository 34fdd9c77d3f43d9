"""The app factory: `create_app(settings)` builds the API around one set of settings.

Nothing is read at import time; `lab serve` calls the factory once with the
process settings, tests call it with their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response

from api import errors
from api.deps import Stores
from api.operations import Runner
from api.routes import (
    audit,
    classes,
    health,
    images,
    labs,
    operations,
    profiles,
    software,
)
from api.routes import (
    schedules as schedule_routes,
)
from api.scheduler import Scheduler
from lab.schedules import ScheduleStore
from lab.settings import Settings

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPERATIONS = "/api/v1/operations/"
_TARGETS = {"labs": "lab", "classes": "class", "operations": "operation"}


def create_app(settings: Settings) -> FastAPI:
    stores = Stores.open(settings)
    stores.operations.fail_orphans()  # left active by a process that is gone
    runner = Runner(settings, stores.operations, stores.audit, workers=max(4, settings.parallel))
    schedules = ScheduleStore(stores.state)
    scheduler = Scheduler(settings, schedules, runner, interval=settings.schedule_poll)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        yield
        scheduler.stop()
        runner.shutdown()

    app = FastAPI(
        title="Hromada Lab API",
        version="1",
        description="Labs of a community's IT stack: profiles, images, labs, classes,"
        " operations. Every endpoint but /healthz and these docs needs a bearer token.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.stores = stores
    app.state.runner = runner
    app.state.schedules = schedules
    app.state.scheduler = scheduler
    errors.install(app)
    for module in (
        health,
        profiles,
        images,
        labs,
        software,
        classes,
        schedule_routes,
        operations,
        audit,
    ):
        app.include_router(module.router)

    @app.middleware("http")
    async def audit_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Every mutating request is recorded with its user, target and HTTP status."""
        state = request.state  # created now, so the auth dependency's writes show here
        response = await call_next(request)
        if request.method in MUTATING and request.url.path.startswith("/api/"):
            user = getattr(state, "user", "-")
            action = f"{request.method} {request.url.path}"
            detail = response.headers.get("Location", "")
            status = str(response.status_code)
            await anyio.to_thread.run_sync(
                _audit, stores, user, action, request.url.path, status, detail
            )
        return response

    return app


def _audit(stores: Stores, user: str, action: str, path: str, status: str, location: str) -> None:
    target = _target(path)
    if not target and location.startswith(OPERATIONS):
        # e.g. POST /api/v1/labs: the new lab is named by the operation it started
        target = stores.operations.get(location.removeprefix(OPERATIONS)).target
    stores.audit.add(user, action, target, status, location)


def _target(path: str) -> str:
    """`/api/v1/labs/demo/reset` -> `lab/demo`; "" when the path names no lab or class."""
    parts = path.strip("/").split("/")
    if len(parts) >= 4 and parts[2] in _TARGETS:
        return f"{_TARGETS[parts[2]]}/{parts[3]}"
    return ""
