"""Machine consoles in the browser: one-time tickets, and the two websockets.

- `POST /api/v1/labs/{lab}/machines/{machine}/console-ticket` (bearer token): a ticket,
  for the serial console or (`{"kind": "vnc"}`) the VNC display;
- `WS .../console?ticket=T`: the serial console as bytes both ways (xterm.js);
- `WS .../vnc?ticket=T`: the VNC display's RFB bytes both ways (noVNC).

A websocket without a valid ticket, or whose user may no longer open this console, is
refused before it is upgraded (the server answers HTTP 403). One that is let in but
whose console cannot be had (the machine is not running) is closed with code 1011 and
the reason, which the page shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import anyio
from fastapi import APIRouter, Request, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from api.auth import Action, CurrentUser, check_lab
from api.deps import SettingsDep, Stores
from api.errors import status_of
from api.schemas import ConsoleTicketCreate, ConsoleTicketPublic
from api.tickets import Tickets
from lab.access.audit import AuditLog, Unauthenticated
from lab.access.users import UserStore
from lab.errors import LabError, NotFoundError
from lab.labs import consoles
from lab.settings import Settings

router = APIRouter(prefix="/api/v1/labs", tags=["consoles"])
Kind = Literal["serial", "vnc"]
_PATHS: dict[Kind, str] = {"serial": "console", "vnc": "vnc"}
_CHUNK = 65536
# Worker threads that sit in a console's blocking read, apart from the ones routes use,
# so that consoles left open cannot starve the API. One limiter per event loop.
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    found = _LIMITERS.get(loop)
    if found is None:
        found = _LIMITERS[loop] = anyio.CapacityLimiter(256)
    return found


def _tickets(app_state: object) -> Tickets:
    tickets: Tickets = getattr(app_state, "tickets")  # noqa: B009 - typed here, once
    return tickets


@router.post("/{name}/machines/{machine}/console-ticket", status_code=201)
def console_ticket(
    name: str,
    machine: str,
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    body: ConsoleTicketCreate | None = None,
) -> ConsoleTicketPublic:
    """A one-time ticket (valid seconds) to open one console of one machine."""
    check_lab(settings, user, name, Action.CONSOLE)
    plan = consoles.machine_plan(settings, name, machine)
    kind: Kind = body.kind if body else "serial"
    if kind == "vnc" and not plan.graphics:
        raise NotFoundError(
            f"machine '{machine}' of lab '{name}' has no graphical console",
            hint="open its serial console; a profile gives a display with graphics: true",
        )
    tickets = _tickets(request.app.state)
    return ConsoleTicketPublic(
        ticket=tickets.issue(user.name, name, machine, kind),
        kind=kind,
        url=f"/api/v1/labs/{name}/machines/{machine}/{_PATHS[kind]}",
        seconds=tickets.ttl,
    )


@router.websocket("/{name}/machines/{machine}/console")
async def serial_console(websocket: WebSocket, name: str, machine: str, ticket: str = "") -> None:
    if not await _admit(websocket, name, machine, "serial", ticket):
        return
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    try:
        session = await anyio.to_thread.run_sync(consoles.open_serial, settings, name, machine)
    except LabError as exc:
        await websocket.close(code=1011, reason=exc.message[:120])
        return
    await _relay(websocket, session)


async def _relay(websocket: WebSocket, session: _Blocking) -> None:
    """Relay a console whose reads and writes block (in worker threads) to the browser."""
    try:
        limiter = _limiter()

        async def guest_to_browser() -> None:
            while data := await anyio.to_thread.run_sync(
                session.read, _CHUNK, limiter=limiter, abandon_on_cancel=True
            ):
                await websocket.send_bytes(data)

        async def browser_to_guest() -> None:
            async for data in _received(websocket):
                await anyio.to_thread.run_sync(session.write, data, limiter=limiter)

        await _pump(websocket, guest_to_browser, browser_to_guest)
    finally:
        await anyio.to_thread.run_sync(session.close)


@router.websocket("/{name}/machines/{machine}/vnc")
async def vnc_console(websocket: WebSocket, name: str, machine: str, ticket: str = "") -> None:
    if not await _admit(websocket, name, machine, "vnc", ticket):
        return
    settings: Settings = websocket.app.state.settings
    # noVNC asks for the "binary" subprotocol (websockify's); raw RFB bytes either way.
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol="binary" if "binary" in offered else None)
    try:
        if await anyio.to_thread.run_sync(consoles.on_server, settings, name):
            # On a lab server: through its SSH, read and written in worker threads.
            remote = await anyio.to_thread.run_sync(consoles.open_display, settings, name, machine)
        else:
            remote = None
            where = await anyio.to_thread.run_sync(consoles.vnc_address, settings, name, machine)
            display = await anyio.connect_tcp(*where)
    except LabError as exc:
        await websocket.close(code=1011, reason=exc.message[:120])
        return
    except OSError:
        await websocket.close(code=1011, reason=f"the display of {name}/{machine} does not answer")
        return
    if remote is not None:
        await _relay(websocket, remote)
        return
    async with display:

        async def display_to_browser() -> None:
            while True:
                try:
                    data = await display.receive(_CHUNK)
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    return
                await websocket.send_bytes(data)

        async def browser_to_display() -> None:
            async for data in _received(websocket):
                await display.send(data)

        await _pump(websocket, display_to_browser, browser_to_display)


_Blocking = consoles.SerialSession | consoles.DisplaySession


async def _received(websocket: WebSocket) -> AsyncIterator[bytes]:
    """What the browser sends, as bytes (text frames as UTF-8), until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        data: bytes | None = message.get("bytes")
        if data is None:
            data = str(message.get("text") or "").encode()
        if data:
            yield data


async def _pump(websocket: WebSocket, *pumps: Callable[[], Awaitable[None]]) -> None:
    """Run both directions until either ends; then close the websocket, saying why."""
    ended = [(1000, "the console has ended")]
    async with anyio.create_task_group() as group:

        async def run(pump: Callable[[], Awaitable[None]]) -> None:
            try:
                await pump()
            except WebSocketDisconnect:
                pass
            except LabError as exc:
                ended[:] = [(1011, exc.message[:120])]
            finally:
                group.cancel_scope.cancel()

        for pump in pumps:
            group.start_soon(run, pump)
    if websocket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await websocket.close(code=ended[0][0], reason=ended[0][1])


async def _admit(websocket: WebSocket, name: str, machine: str, kind: Kind, ticket: str) -> bool:
    """Whether the ticket opens this console for a user who may still open it; if not,
    the websocket is refused (403). An attempt with a valid ticket is in the audit log
    either way; one without is only counted (lab.access.audit.Unauthenticated)."""
    state = websocket.app.state
    stores: Stores = state.stores
    grant = _tickets(state).redeem(ticket, name, machine, kind) if ticket else None
    if grant is None:
        unauthenticated: Unauthenticated = state.unauthenticated
        client = websocket.client.host if websocket.client else "-"
        route = getattr(websocket.scope.get("route"), "path", "")
        if unauthenticated.count("WEBSOCKET", route, 403, client):
            await anyio.to_thread.run_sync(unauthenticated.flush)
        await websocket.close(
            code=1008,
            reason="the console ticket is not valid:"
            " missing, used, expired, or for another console",
        )
        return False
    user = grant.user
    try:
        await anyio.to_thread.run_sync(_still_allowed, state.settings, stores.users, user, name)
    except LabError as exc:
        status = status_of(exc)
        await anyio.to_thread.run_sync(_audit, stores.audit, user, websocket, name, str(status))
        # Closed before it is accepted: the server refuses the upgrade with HTTP 403.
        await websocket.close(code=1008, reason=exc.message[:120])
        return False
    await anyio.to_thread.run_sync(_audit, stores.audit, user, websocket, name, "101")
    return True


def _still_allowed(settings: Settings, users: UserStore, name: str, lab: str) -> None:
    """The ticket's user may still open the console (a role or seat may have changed)."""
    check_lab(settings, users.get(name), lab, Action.CONSOLE)


def _audit(audit: AuditLog, user: str, websocket: WebSocket, lab: str, result: str) -> None:
    audit.add(user, f"WEBSOCKET {websocket.url.path}", f"lab/{lab}", result)
