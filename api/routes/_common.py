"""Helpers shared by the route modules: how an operation is started and answered."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from api.auth import Action, check_class, check_lab
from api.errors import error_responses
from api.schemas import OperationPublic
from lab.access.users import User
from lab.classes import classes
from lab.labs import lifecycle
from lab.operations.runner import Runner, Work
from lab.operations.store import Operation
from lab.settings import Settings

# The largest SQLite INTEGER: an id beyond it is refused (422), not an overflow (500).
ROW_ID = 2**63 - 1

# Every operation is started on something named (a lab, a class, a profile): 404 when
# it is not there, 409 when it is busy with another operation.
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: the operation runs; follow its `url`"},
    **error_responses(404, 409),
}


def accepted(response: Response, op: Operation) -> OperationPublic:
    public = OperationPublic.of(op)
    response.status_code = 202
    response.headers["Location"] = public.url
    return public


def start_on_lab(
    response: Response,
    runner: Runner,
    settings: Settings,
    user: User,
    *,
    lab: str,
    action: Action,
    kind: str,
    work: Work,
) -> OperationPublic:
    """What every route that starts an operation on one lab does: the user may do `action`
    to it (403), it exists (404), the operation is queued under the lab's lock (409 while
    another holds it), and the answer is 202 with the operation's URL."""
    check_lab(settings, user, lab, action)
    lifecycle.get_lab(settings, lab)
    return accepted(response, runner.submit(kind, f"lab/{lab}", user.name, work, lock=lab))


def start_on_class(
    response: Response,
    runner: Runner,
    settings: Settings,
    user: User,
    *,
    klass: str,
    action: Action,
    kind: str,
    work: Work,
) -> OperationPublic:
    """`start_on_lab` for a class: the user may (403), the class exists (404), 202. Its
    seats' own locks are taken seat by seat by the use case."""
    check_class(user, klass, action)
    classes.get_class(settings, klass)
    return accepted(response, runner.submit(kind, f"class/{klass}", user.name, work))
