"""Bearer-token authentication and the role rules.

Every route needs a token except those in `PUBLIC` (health and the API's own
documentation). Roles, from most to least:

- admin: everything;
- engineer: images, profiles, labs, classes, operations, audit, metrics;
- trainer: the classes assigned to them and their seats: status, reset, baseline;
- tester: the labs they created: create, status, power, reset, baseline, delete;
- trainee: their own seat (a lab assigned to them): status, power, reset.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import StoresDep
from api.errors import ForbiddenError, UnauthorizedError
from lab import classes
from lab.errors import NotFoundError
from lab.settings import Settings
from lab.users import Role, User

PUBLIC = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

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


STAFF = (Role.ADMIN, Role.ENGINEER)
_LAB_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.TESTER: frozenset(Action) - {Action.CREATE},  # creating is checked by role alone
    Role.TRAINEE: frozenset({Action.READ, Action.POWER, Action.RESET}),
    Role.TRAINER: frozenset({Action.READ, Action.RESET, Action.BASELINE}),
}
_CLASS_ACTIONS = frozenset({Action.READ, Action.RESET, Action.BASELINE})


def current_user(
    request: Request,
    stores: StoresDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise UnauthorizedError(
            "this endpoint needs a bearer token",
            hint="send `Authorization: Bearer TOKEN`; an admin makes one: lab token create NAME",
        )
    user = stores.users.authenticate(credentials.credentials)
    if user is None:
        raise UnauthorizedError(
            "the token is not valid", hint="ask an admin for a new one: lab token create NAME"
        )
    request.state.user = user.name  # for the audit log
    return user


CurrentUser = Annotated[User, Depends(current_user)]


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


def may_see_lab(settings: Settings, user: User, lab: str) -> bool:
    try:
        check_lab(settings, user, lab, Action.READ)
    except ForbiddenError:
        return False
    return True


def _trainer_seats(settings: Settings, user: User) -> set[str]:
    seats: set[str] = set()
    for name in user.classes:
        try:
            seats.update(classes.get_class(settings, name).seats)
        except NotFoundError:
            continue
    return seats
