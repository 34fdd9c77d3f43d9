"""Bearer-token authentication and the role rules.

Every route needs a token except those in `PUBLIC` (health, the API's own
description, the web page and its login). A token is a bearer token (`lab token
create`) or a login session's (`POST /api/v1/login`, see lab.access.logins). Roles, from most
to least:

- admin: everything;
- engineer: images, profiles, labs, classes, operations, audit, metrics;
- trainer: the classes assigned to them and their seats: status, reset, baseline (and
  checkpoints), access sheet, consoles, deleting the class; a class they create is
  assigned to them;
- tester: the labs they created: create, status, power, reset, baseline (and
  checkpoints), delete, consoles;
- trainee: their own seat (a lab assigned to them): status, power, reset, console.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import Stores, StoresDep
from api.errors import ForbiddenError, UnauthorizedError
from lab.access.logins import SESSION_PREFIX, LoginStore
from lab.access.users import Role, User, token_hash
from lab.classes import classes
from lab.errors import NotFoundError
from lab.settings import Settings

PUBLIC = frozenset(
    {"/healthz", "/openapi.json"}
    | {"/", "/api/v1/login"}  # the web page, and how it gets a session token
)

_bearer = HTTPBearer(auto_error=False, description="A token from `lab token create NAME`")


class Action(StrEnum):
    READ = "read"
    CREATE = "create"
    DELETE = "delete"
    POWER = "power"
    RESET = "reset"
    BASELINE = "baseline"
    PROVISION = "provision"  # provision, apply software
    TEST = "test"  # run the verification suite, read its results
    CONSOLE = "console"  # a machine's serial or graphical console (type into it)
    SHEET = "access-sheet"  # a class's access sheet: new passwords for its trainees


STAFF = (Role.ADMIN, Role.ENGINEER)
_LAB_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.TESTER: frozenset(Action) - {Action.CREATE},  # creating is checked by role alone
    Role.TRAINEE: frozenset({Action.READ, Action.POWER, Action.RESET, Action.CONSOLE}),
    # A trainer may look into (and type into) a seat's console: helping a trainee whose
    # sandbox is stuck is their job, and they may reset that seat anyway.
    Role.TRAINER: frozenset({Action.READ, Action.RESET, Action.BASELINE, Action.CONSOLE}),
}
_CLASS_ACTIONS = frozenset(
    {Action.READ, Action.RESET, Action.BASELINE, Action.SHEET, Action.DELETE}
)


async def current_user(
    request: Request,
    stores: StoresDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The token's user (see `token_user`); 401 without a token or for an unknown one."""
    if credentials is None:
        raise UnauthorizedError(
            "this endpoint needs a bearer token",
            hint="send `Authorization: Bearer TOKEN`; an admin makes one: lab token create NAME",
        )
    user = await token_user(stores, request.app.state.logins, credentials.credentials)
    if user is None:
        raise UnauthorizedError(
            "the token is not valid", hint="ask an admin for a new one: lab token create NAME"
        )
    request.state.user = user.name  # for the audit log
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def token_user(stores: Stores, logins: LoginStore, token: str) -> User | None:
    """The user of a bearer token or a login session's token; None for neither. From
    memory on the event loop while nothing changed since the tokens were read (the check
    is one counter read), else read in a worker thread."""
    known = stores.users.tokens_now()
    if known is not None:
        user = known.get(token_hash(token))
    else:
        user = await anyio.to_thread.run_sync(stores.users.authenticate, token)
    if user is None and token.startswith(SESSION_PREFIX):  # the web page's login session
        user = await anyio.to_thread.run_sync(logins.session_user, token)
    return user


def require(user: User, *roles: Role) -> None:
    """403 unless the user is an admin or has one of `roles`."""
    if user.role is not Role.ADMIN and user.role not in roles:
        raise ForbiddenError(
            f"role '{user.role}' may not do this",
            hint="allowed: " + ", ".join(["admin", *roles]),
        )


def check_lab(settings: Settings, user: User, lab: str, action: Action) -> None:
    """403 unless `action` on lab `lab` is within the user's role and assignments."""
    if user.role in STAFF:
        return
    allowed = _LAB_ACTIONS.get(user.role, frozenset())
    mine = lab in user.labs or (user.role is Role.TRAINER and lab in _trainer_seats(settings, user))
    if action not in allowed or not mine:
        raise ForbiddenError(
            f"lab '{lab}' is not yours to {action}",
            hint="ask an admin to assign it: lab user assign NAME --lab LAB",
        )


def check_class(user: User, klass: str, action: Action) -> None:
    if user.role in STAFF:
        return
    if user.role is not Role.TRAINER or klass not in user.classes or action not in _CLASS_ACTIONS:
        raise ForbiddenError(
            f"class '{klass}' is not yours to {action}",
            hint="ask an admin to assign it: lab user assign NAME --class CLASS",
        )


def lab_visibility(settings: Settings, user: User) -> Callable[[str], bool]:
    """Whether the user may see a lab, by name: `check_lab(..., READ)` for many labs,
    with the user's seats looked up once."""
    if user.role in STAFF:
        return lambda _lab: True
    if Action.READ not in _LAB_ACTIONS.get(user.role, frozenset()):
        return lambda _lab: False
    mine = set(user.labs)
    if user.role is Role.TRAINER:
        mine |= _trainer_seats(settings, user)
    return mine.__contains__


def _trainer_seats(settings: Settings, user: User) -> set[str]:
    seats: set[str] = set()
    for name in user.classes:
        try:
            seats.update(classes.get_class(settings, name).seats)
        except NotFoundError:
            continue
    return seats
