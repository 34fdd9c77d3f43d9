"""Use cases of a user's access: assign and unassign, revoke, disable, enable, remove.

Ending access takes effect at once, everywhere: bearer tokens and web sessions go in
the same call, and the API reads users, tokens and assignments again after any write
to them (lab.store.state's counters), whichever process made it.

- revoke: every token and every web session ends; the password still logs in;
- disable: the same, and nothing logs them in (password or token) until `enable`;
- remove: the user is forgotten with their tokens, sessions, password and assignments.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from lab.access.logins import LoginStore
from lab.access.ownership import class_of_seat
from lab.access.users import AssignmentKind, UserStore
from lab.errors import NotFoundError, quote
from lab.settings import Settings
from lab.store.state import StateStore


class Ended(BaseModel):
    """What ending a user's access took away."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    tokens: int
    sessions: int


def _stores(settings: Settings) -> tuple[StateStore, UserStore, LoginStore]:
    state = StateStore.open(settings)
    users = UserStore(state)
    return state, users, LoginStore(state, users)


def assign(settings: Settings, name: str, kind: AssignmentKind, target: str) -> None:
    """Give a user a lab (an existing lab, or a seat of an existing class) or a class
    (an existing one); NotFoundError for anything else."""
    state, users, _ = _stores(settings)
    users.get(name)
    if kind is AssignmentKind.CLASS:
        state.get_class(target)
    elif state.find_lab(target) is None and class_of_seat(state, target) is None:
        raise NotFoundError(
            f"no lab named {quote(target)}, nor a seat of a class by that name",
            hint="`lab list` shows the labs, `lab class list` the classes",
        )
    users.assign(name, kind, target)


def unassign(settings: Settings, name: str, kind: AssignmentKind, target: str) -> None:
    """Take a lab or a class away from a user; NotFoundError if it was not theirs."""
    _, users, _ = _stores(settings)
    users.get(name)
    if not users.unassign(name, kind, target):
        raise NotFoundError(
            f"user {quote(name)} has no {kind} {quote(target)} assigned",
            hint="`lab user list` shows the assignments",
        )


def revoke(settings: Settings, name: str) -> Ended:
    """End every token and web session of the user (their password still logs in)."""
    _, users, logins = _stores(settings)
    users.get(name)
    tokens = users.revoke_tokens(name)
    return Ended(user=name, tokens=tokens, sessions=logins.end_sessions(name))


def disable(settings: Settings, name: str) -> Ended:
    """End the user's tokens and sessions, and let nothing log them in until enabled."""
    _, users, logins = _stores(settings)
    tokens = users.set_disabled(name, True)  # first: no login or token works from here on
    return Ended(user=name, tokens=tokens, sessions=logins.end_sessions(name))


def enable(settings: Settings, name: str) -> None:
    """Let a disabled user log in again (with a new token or their password)."""
    _stores(settings)[1].set_disabled(name, False)


def remove(settings: Settings, name: str) -> Ended:
    """Forget the user, with their tokens, sessions, password and assignments."""
    ended = disable(settings, name)
    _stores(settings)[1].remove(name)
    return ended
