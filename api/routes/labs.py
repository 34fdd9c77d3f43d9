"""Labs: create (from a profile or a template), list, get, delete, power, baseline, reset."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Response

from api.auth import STAFF, Action, CurrentUser, check_lab, lab_visibility, require
from api.deps import RunnerDep, SettingsDep, Stores, StoresDep
from api.rendering import json_list, json_response, lab_json, rendered_lab
from api.routes._common import ACCEPTED, accepted, start_on_lab
from api.schemas import (
    BaselinePublic,
    CheckpointCreate,
    CheckpointPublic,
    LabCreate,
    LabPower,
    LabPublic,
    LabStatusPublic,
    OperationPublic,
    ResetPublic,
    ResetRequest,
    TopologyPublic,
)
from lab.access.users import Role, User
from lab.base import Progress
from lab.baselines import resets
from lab.errors import quote
from lab.host.model import LOCAL
from lab.labs import lifecycle
from lab.labs.topology import topology
from lab.operations.runner import Runner
from lab.placement import admission
from lab.profile import catalogue
from lab.settings import Settings
from lab.templates import clones

router = APIRouter(prefix="/api/v1/labs", tags=["labs"])


# The two reads asked most: answered on the event loop from what is read and rendered
# already (checking that costs one counter read: microseconds), or else in a worker
# thread, which reads and renders. A trainer's scope needs their classes: the thread.


@router.get("", response_model=list[LabPublic])
async def list_labs(user: CurrentUser, settings: SettingsDep, stores: StoresDep) -> Response:
    """The labs the user may see (staff: all of them)."""
    listed = _listed_now(user, settings, stores)
    if listed is None:
        listed = await anyio.to_thread.run_sync(_list_labs, user, settings)
    return listed


def _list_labs(user: User, settings: Settings) -> Response:
    visible = lab_visibility(settings, user)
    return json_list(lab_json(lab) for lab in lifecycle.list_labs(settings) if visible(lab.name))


def _listed_now(user: User, settings: Settings, stores: Stores) -> Response | None:
    snapshot = None if user.role is Role.TRAINER else stores.state.current_labs()
    if snapshot is None:
        return None
    visible = lab_visibility(settings, user)
    items = []
    for lab in snapshot.records:
        if visible(lab.name):
            rendered = rendered_lab(lab)
            if rendered is None:  # not rendered yet (just read): the thread renders it
                return None
            items.append(rendered)
    return json_list(items)


@router.post("", status_code=202, responses=ACCEPTED)
def create_lab(
    body: LabCreate,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Bring a catalogue profile up as a lab, or clone one from a template (an operation:
    202). The lab is the tester's once its machines are up (lab.access.ownership)."""
    require(user, *STAFF, Role.TESTER)
    host = body.host or LOCAL
    if body.template is not None:
        return _clone(body.template, body.name or "", host, response, user, settings, runner)
    path, name = catalogue.new_lab(settings, body.profile or "", body.name, user)
    # At once: 404 for a host nobody added, 409 for one that is draining.
    admission.check_open(settings, f"lab {quote(name)}", host)

    def work(progress: Progress) -> LabPublic:
        return LabPublic.of(lifecycle.up(settings, path, name, progress, owner=user, host=host))

    return accepted(response, runner.submit("up", f"lab/{name}", user.name, work, lock=name))


def _clone(
    template: str,
    name: str,
    host: str,
    response: Response,
    user: User,
    settings: Settings,
    runner: Runner,
) -> OperationPublic:
    # 404, 409, 422 or 403 at once (no such template or host, a host draining, ...).
    clones.check_new_clone(settings, template, name, user, host)

    def work(progress: Progress) -> LabPublic:
        return LabPublic.of(clones.clone(settings, template, name, progress, owner=user, host=host))

    return accepted(response, runner.submit("clone", f"lab/{name}", user.name, work, lock=name))


@router.get("/{name}", response_model=LabPublic)
async def get_lab(
    name: str, user: CurrentUser, settings: SettingsDep, stores: StoresDep
) -> Response:
    found = _lab_now(name, user, settings, stores)
    if found is None:
        found = await anyio.to_thread.run_sync(_get_lab, name, user, settings)
    return found


def _get_lab(name: str, user: User, settings: Settings) -> Response:
    check_lab(settings, user, name, Action.READ)
    return json_response(lab_json(lifecycle.get_lab(settings, name)))


def _lab_now(name: str, user: User, settings: Settings, stores: Stores) -> Response | None:
    if user.role is Role.TRAINER:
        return None
    check_lab(settings, user, name, Action.READ)  # from the user alone: no trainer here
    snapshot = stores.state.current_labs()
    lab = None if snapshot is None else snapshot.by_name.get(name)
    rendered = None if lab is None else rendered_lab(lab)
    return None if rendered is None else json_response(rendered)


@router.get("/{name}/status")
def lab_status(name: str, user: CurrentUser, settings: SettingsDep) -> LabStatusPublic:
    """Live: each machine's power state, addresses, and whether SSH and the agent answer."""
    check_lab(settings, user, name, Action.READ)
    return LabStatusPublic.of(lifecycle.status(settings, name))


@router.get("/{name}/topology")
def lab_topology(name: str, user: CurrentUser, settings: SettingsDep) -> TopologyPublic:
    """The lab's networks and machines with every address, from its recorded plan."""
    check_lab(settings, user, name, Action.READ)
    return TopologyPublic.of(topology(lifecycle.get_lab(settings, name).plan))


@router.get("/{name}/resets")
def lab_resets(
    name: str, user: CurrentUser, settings: SettingsDep, stores: StoresDep
) -> list[ResetPublic]:
    """The lab's latest resets, newest first: mode, result, duration."""
    check_lab(settings, user, name, Action.READ)
    lifecycle.get_lab(settings, name)
    return [ResetPublic.of(r) for r in stores.state.resets(name)]


@router.delete("/{name}", status_code=202, responses=ACCEPTED)
def delete_lab(
    name: str,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Remove the lab entirely, and every assignment to it (an operation: 202)."""

    def work(progress: Progress) -> list[str]:
        return lifecycle.down(settings, name, progress)  # its assignments too

    return start_on_lab(
        response, runner, settings, user, lab=name, action=Action.DELETE, kind="down", work=work
    )


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
    use_case = lifecycle.start if body.action == "start" else lifecycle.stop

    def work(progress: Progress) -> LabPublic:
        return LabPublic.of(use_case(settings, name, progress))

    return start_on_lab(
        response, runner, settings, user, lab=name, action=Action.POWER, kind=body.action, work=work
    )


@router.post("/{name}/baseline", status_code=202, responses=ACCEPTED)
def baseline(
    name: str, response: Response, user: CurrentUser, settings: SettingsDep, runner: RunnerDep
) -> OperationPublic:
    """Capture the lab's clean state (disk layer + memory) and verify it."""

    def work(progress: Progress) -> object:
        return resets.baseline(settings, name, progress)

    return start_on_lab(
        response,
        runner,
        settings,
        user,
        lab=name,
        action=Action.BASELINE,
        kind="baseline",
        work=work,
    )


@router.post("/{name}/reset", status_code=202, responses=ACCEPTED)
def reset(
    name: str,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
    body: ResetRequest | None = None,
) -> OperationPublic:
    """Put the lab back to its baseline (or to its checkpoint `to`), verified. 409 while
    another operation holds it."""
    cold = body.cold if body else False
    to = body.to if body else None
    if to is not None:  # an unknown checkpoint: 404 at once, naming the lab's checkpoints
        check_lab(settings, user, name, Action.RESET)
        resets.reset_target(lifecycle.get_lab(settings, name).plan, to)

    def work(progress: Progress) -> ResetPublic:
        return ResetPublic.of(resets.reset(settings, name, cold=cold, to=to, progress=progress))

    return start_on_lab(
        response, runner, settings, user, lab=name, action=Action.RESET, kind="reset", work=work
    )


@router.post("/{name}/checkpoints", status_code=202, responses=ACCEPTED)
def add_checkpoint(
    name: str,
    body: CheckpointCreate,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Capture the lab's state now (disk layers + memory) as a named checkpoint, replacing
    one of that name, and verify the lab. A reset can then go to it (`to`)."""

    def work(progress: Progress) -> object:
        return resets.checkpoint(settings, name, body.name, progress)

    return start_on_lab(
        response,
        runner,
        settings,
        user,
        lab=name,
        action=Action.BASELINE,
        kind="checkpoint",
        work=work,
    )


@router.get("/{name}/baseline")
def get_baseline(name: str, user: CurrentUser, settings: SettingsDep) -> BaselinePublic:
    """When the lab's baseline in force was captured (`created_at` null: none yet)."""
    check_lab(settings, user, name, Action.READ)
    return BaselinePublic(lab=name, created_at=resets.baseline_at(settings, name))


@router.get("/{name}/checkpoints")
def list_checkpoints(name: str, user: CurrentUser, settings: SettingsDep) -> list[CheckpointPublic]:
    """The lab's checkpoints, by name: when taken, which machines' memory, size on disk."""
    check_lab(settings, user, name, Action.READ)
    return [CheckpointPublic.of(c) for c in resets.checkpoints(settings, name)]


@router.delete("/{name}/checkpoints/{checkpoint}", status_code=204)
def delete_checkpoint(
    name: str, checkpoint: str, user: CurrentUser, settings: SettingsDep
) -> Response:
    """Delete a checkpoint of the lab (404 when it has none of that name; 409 while an
    operation holds the lab)."""
    check_lab(settings, user, name, Action.BASELINE)
    resets.delete_checkpoint(settings, name, checkpoint)
    return Response(status_code=204)
