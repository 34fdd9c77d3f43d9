"""`/healthz` (public), `/metrics` (Prometheus text), `/api/v1/host`, `/api/v1/hosts` and
`/api/v1/me`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.auth import STAFF, CurrentUser, require
from api.deps import SettingsDep, StoresDep
from api.metrics import CONTENT_TYPE, render
from api.schemas import Health, HostPublic, HostRoomPublic, UserPublic
from lab.access.audit import Unauthenticated
from lab.labs import lifecycle
from lab.placement import admission

router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz() -> Health:
    """Whether the API answers. Public: no token needed."""
    return Health()


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
def metrics(
    request: Request, user: CurrentUser, settings: SettingsDep, stores: StoresDep
) -> PlainTextResponse:
    """Labs, machines, operations, reset durations and requests that named no user, in
    the Prometheus text format."""
    require(user, *STAFF)
    labs = lifecycle.list_labs(settings)
    resets = [r for lab in labs for r in stores.state.resets(lab.name, limit=1000)]
    unauthenticated: Unauthenticated = request.app.state.unauthenticated
    text = render(labs, stores.operations.counts(), resets, unauthenticated.total)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


@router.get("/api/v1/me", tags=["users"])
def me(user: CurrentUser) -> UserPublic:
    """Who the token belongs to, with their role and assignments."""
    return UserPublic.of(user)


@router.get("/api/v1/host", tags=["health"])
def host(user: CurrentUser, settings: SettingsDep) -> HostRoomPublic:
    """What the host has free for more labs and why: the arithmetic by which a lab or a
    class that does not fit is refused (as `lab host check` shows it). Staff only."""
    require(user, *STAFF)
    return HostRoomPublic.of(admission.host_room(settings))


@router.get("/api/v1/hosts", tags=["health"])
def list_hosts(user: CurrentUser, settings: SettingsDep) -> list[HostPublic]:
    """Every lab host (`local` first) with its accelerator, CPUs, memory, disk and labs,
    as asked just now; one that does not answer says why. Staff only."""
    require(user, *STAFF)
    return [HostPublic.of(view) for view in admission.host_views(settings)]
