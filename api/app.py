"""The app factory: `create_app(settings)` builds the API around one set of settings.

Nothing is read at import time; `lab serve` calls the factory once with the
process settings, tests call it with their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import errors
from api.auth import token_user
from api.deps import Stores
from api.limits import BodyLimit
from api.rendering import lab_json
from api.routes import (
    access_sheets,
    audit,
    catalogue,
    class_sources,
    classes,
    consoles,
    courses,
    health,
    images,
    labs,
    operations,
    profiles,
    sessions,
    software,
    templates,
    web,
)
from api.routes import (
    schedules as schedule_routes,
)
from api.scheduler import Scheduler
from api.tickets import Tickets
from lab.access.audit import Unauthenticated, escaped
from lab.access.logins import LoginStore
from lab.access.throttle import HashGate, LoginThrottle
from lab.classes.schedules import ScheduleStore
from lab.operations.runner import Runner
from lab.settings import Settings

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPERATIONS = "/api/v1/operations/"
_TARGETS = {
    "labs": "lab",
    "classes": "class",
    "operations": "operation",
    "templates": "template",
}
MAX_ACTION = 200  # characters of a request's path kept in its audit entry


def create_app(settings: Settings) -> FastAPI:
    stores = Stores.open(settings)
    stores.operations.fail_orphans()  # left active by a process that is gone
    # Read (and rendered) once now, rather than in the first requests' time.
    stores.users.token_users()
    for lab in stores.state.list_labs():
        lab_json(lab)
    runner = Runner(settings, stores.operations, stores.audit, workers=max(4, settings.parallel))
    schedules = ScheduleStore(stores.state)
    scheduler = Scheduler(settings, schedules, runner, interval=settings.schedule_poll)
    unauthenticated = Unauthenticated(stores.audit)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        scheduler.start()
        yield
        scheduler.stop()
        runner.shutdown()
        unauthenticated.flush()

    app = FastAPI(
        title="Hromada Lab API",
        version="1",
        description="Labs of a community's IT stack: profiles, images, labs, classes,"
        " operations. Every endpoint but /healthz and this document needs a bearer token.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a public CDN: not on this server.
        # The OpenAPI document stays; any OpenAPI viewer reads it.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.stores = stores
    app.state.runner = runner
    app.state.schedules = schedules
    app.state.scheduler = scheduler
    app.state.logins = LoginStore(
        stores.state,
        stores.users,
        throttle=LoginThrottle(settings.login_attempts, settings.login_window),
        gate=HashGate(settings.hash_workers),
        audit=stores.audit,
    )
    app.state.unauthenticated = unauthenticated
    app.state.tickets = Tickets()
    errors.install(app)
    # Routers are tried in this order: the labs, whose reads are asked most, first.
    for module in (
        labs,
        health,
        profiles,
        images,
        templates,
        software,
        classes,
        class_sources,
        courses,
        schedule_routes,
        operations,
        audit,
        catalogue,
    ):
        app.include_router(module.router)
    for page in (sessions, access_sheets, consoles):
        app.include_router(page.router)
    web.mount(app)

    app.add_middleware(BodyLimit)
    app.add_middleware(AuditLog, stores=stores, unauthenticated=unauthenticated)
    return app


class AuditLog:
    """Every mutating request by a user is recorded with its user, target and HTTP status,
    before its answer leaves (so a client that got it finds the record). One that named
    no user (no or a wrong token, an unknown path, too large) is only counted: anyone may
    send those by the thousand (lab.access.audit.Unauthenticated). Plain ASGI: reads pass
    straight through, at no cost."""

    def __init__(self, app: ASGIApp, stores: Stores, unauthenticated: Unauthenticated) -> None:
        self.app = app
        self.stores = stores
        self.unauthenticated = unauthenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or not path.startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # the auth dependency names the user there
        action = f"{scope['method']} {escaped(path, MAX_ACTION)}"
        recorded = False

        async def record(status: int, location: str) -> None:
            nonlocal recorded
            recorded = True
            user = state.get("user")
            if user is None:  # refused before the route looked at its token, or without one
                user = await _named_user(scope)
            if user is None:
                route = getattr(scope.get("route"), "path", "(no such path)")
                client = scope.get("client") or ("-", 0)
                if self.unauthenticated.count(scope["method"], route, status, client[0]):
                    await anyio.to_thread.run_sync(self.unauthenticated.flush)
                return
            await anyio.to_thread.run_sync(
                _audit, self.stores, str(user), action, path, str(status), location
            )

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start" and not recorded:
                headers = dict(message.get("headers", ()))
                await record(message["status"], headers.get(b"location", b"").decode("latin-1"))
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        except Exception:
            if not recorded:
                await record(500, "")
            raise


def _audit(stores: Stores, user: str, action: str, path: str, status: str, location: str) -> None:
    target = _target(path)
    if not target and location.startswith(OPERATIONS):
        # e.g. POST /api/v1/labs: the new lab is named by the operation it started
        target = stores.operations.get(location.removeprefix(OPERATIONS)).target
    stores.audit.add(user, action, escaped(target, MAX_ACTION), status, location)


def _target(path: str) -> str:
    """`/api/v1/labs/demo/reset` -> `lab/demo`; "" when the path names no lab or class."""
    parts = path.strip("/").split("/")
    if len(parts) >= 4 and parts[2] in _TARGETS:
        return f"{_TARGETS[parts[2]]}/{parts[3]}"
    return ""


async def _named_user(scope: Scope) -> str | None:
    """The user a request's bearer token names, if any (for a request refused before its
    route checked the token: a body that is not JSON)."""
    headers = dict(scope.get("headers", ()))
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    app_state = scope["app"].state
    found = await token_user(app_state.stores, app_state.logins, token.strip())
    return found.name if found else None
