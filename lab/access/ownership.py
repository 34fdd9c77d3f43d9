"""Who a lab belongs to: the rules every way of making or removing a lab follows.

The API and the CLI both reach these through the use cases (lab.labs.lifecycle,
lab.classes.classes), never on their own:

- a lab asked for by a user (a tester, through the API) is recorded as theirs
  (`LabRecord.owner`) and assigned to them once its machines are up; an `up` that fails
  and removes what it made leaves no assignment behind;
- such a user may not take a name that is a seat of a class, a name assigned to another
  user, nor more than `LAB_LABS_PER_USER` labs; staff (engineers, admins, and the host's
  own CLI) may, e.g. to bring a missing seat back;
- a class may not take seat names that are labs already or assigned to anyone;
- removing a lab removes every assignment to it; removing a class removes the
  trainers' assignments to it and the trainee users made for its seats.

These checks run when a request arrives (a quick answer) and again while the names
lock (`lab.labs.locks.NAMES`) is held, where the lab or class is recorded: requests side by
side cannot both pass them.
"""

from __future__ import annotations

from lab.access.users import AssignmentKind, Role, User, UserStore
from lab.classes.records import ClassRecord
from lab.errors import ConflictError, quote
from lab.settings import Settings
from lab.store.state import StateStore

STAFF = frozenset({Role.ADMIN, Role.ENGINEER})


def is_staff(owner: User | None) -> bool:
    """Whether the lab is asked for by staff: an engineer or admin, or the host's CLI."""
    return owner is None or owner.role in STAFF


def class_of_seat(state: StateStore, lab: str) -> str | None:
    """The class whose seat `lab` is, if any."""
    return next((k.name for k in state.list_classes() if lab in k.seats), None)


def check_new_lab(settings: Settings, lab: str, owner: User | None) -> None:
    """ConflictError unless `owner` may create lab `lab` (see the module's rules)."""
    if is_staff(owner):
        return
    assert owner is not None
    state = StateStore.open(settings)
    klass = class_of_seat(state, lab)
    if klass is not None:
        raise ConflictError(
            f"{quote(lab)} is a seat of class {quote(klass)}",
            hint="pick another name; seats are made by their class",
        )
    others = [u for u in UserStore(state).assignees(AssignmentKind.LAB, lab) if u != owner.name]
    if others:
        raise ConflictError(f"{quote(lab)} is assigned to another user", hint="pick another name")
    _check_quota(settings, state, owner)


def _check_quota(settings: Settings, state: StateStore, owner: User) -> None:
    mine = [r.name for r in state.list_labs() if r.owner == owner.name or r.name in owner.labs]
    if len(mine) >= settings.labs_per_user:
        raise ConflictError(
            f"user {quote(owner.name)} has {len(mine)} labs; at most"
            f" {settings.labs_per_user} are allowed (LAB_LABS_PER_USER)",
            hint="delete one of them first: " + ", ".join(sorted(mine)[:5]),
        )


def take(settings: Settings, lab: str, owner: User | None) -> None:
    """Assign lab `lab`, now up, to the user who asked for it (staff need none)."""
    if not is_staff(owner):
        assert owner is not None
        UserStore.open(settings).assign(owner.name, AssignmentKind.LAB, lab)


def check_seats(settings: Settings, klass: str, seats: tuple[str, ...]) -> None:
    """ConflictError if a seat's name is a lab already or assigned to someone: a class
    never adopts another user's lab, nor opens a seat to someone assigned it before."""
    state = StateStore.open(settings)
    users = UserStore(state)
    for seat in seats:
        if state.find_lab(seat) is not None:
            raise ConflictError(
                f"seat {quote(seat)} of class {quote(klass)} is a lab already",
                hint=f"pick another class name, or remove that lab first: lab down {seat}",
            )
        if users.assignees(AssignmentKind.LAB, seat):
            raise ConflictError(
                f"seat {quote(seat)} of class {quote(klass)} is assigned to a user already",
                hint="pick another class name, or unassign it: lab user unassign USER --lab"
                f" {seat}",
            )


def give_class(settings: Settings, trainer: str, klass: str) -> None:
    """Assign a class a trainer made to them (it was recorded just now)."""
    UserStore.open(settings).assign(trainer, AssignmentKind.CLASS, klass)


def forget_lab(settings: Settings, lab: str) -> list[str]:
    """Remove every assignment to lab `lab` (it is gone); whose they were."""
    return UserStore.open(settings).unassign_target(AssignmentKind.LAB, lab)


def forget_class(settings: Settings, klass: ClassRecord) -> list[str]:
    """Remove the assignments to a class that is gone, and the trainee users made for
    its seats (named after them: the access sheet's); whose access ended."""
    users = UserStore.open(settings)
    ended = users.unassign_target(AssignmentKind.CLASS, klass.name)
    for seat in klass.seats:
        ended += users.unassign_target(AssignmentKind.LAB, seat)
        seat_user = next((u for u in users.list_users() if u.name == seat), None)
        if seat_user is not None and seat_user.role is Role.TRAINEE:
            users.remove(seat)
            ended.append(seat)
    return sorted(set(ended))
