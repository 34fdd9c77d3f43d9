"""A class's access sheet: per seat, how its trainee gets in (the trainer prints it).

Every seat gets a trainee API user (the users assigned to it, or a new one named after
the seat) with a fresh random password: it is shown on this sheet only, and only its
hash is kept, so printing the sheet again gives everyone new passwords (and ends their
sessions). Beside it: each machine's trainee account (the profile's `kind: trainee`
account) with the password the lab's guests were made with, for the console.
"""

from __future__ import annotations

from datetime import datetime

from lab.access.logins import LoginStore, new_password
from lab.access.users import AssignmentKind, Role, User, UserStore
from lab.base import Frozen
from lab.classes import classes
from lab.errors import ConflictError
from lab.labs.passwords import known_passwords
from lab.labs.plan import MachinePlan
from lab.labs.records import LabRecord
from lab.profile import AccountKind, Profile, load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now


class SheetMachine(Frozen):
    machine: str
    graphics: bool
    address: str  # on the lab's management network: reached from the Centre host only
    account: str  # the profile's trainee account; "" when it has none
    password: str  # that account's password; "" when unknown
    # An appliance's logins as its profile documents them ("user / password (note)"):
    # the lab made no account there.
    appliance_logins: tuple[str, ...] = ()
    managed: bool = True  # False: an appliance, reached through its console only


class SheetEntry(Frozen):
    seat: str
    login: str  # the web page's user
    password: str
    machines: tuple[SheetMachine, ...]


class AccessSheet(Frozen):
    class_name: str
    title: str  # the community's title, from the profile
    made_at: datetime
    made_by: str
    entries: tuple[SheetEntry, ...]


def make(
    settings: Settings, users: UserStore, logins: LoginStore, klass: str, made_by: str
) -> AccessSheet:
    """The sheet of class `klass`, with fresh web passwords for every seat's trainees."""
    record = classes.get_class(settings, klass)
    everyone = users.list_users()
    entries: list[SheetEntry] = []
    title = ""
    for seat in record.seats:
        lab = StateStore.open(settings).find_lab(seat)
        machines: tuple[SheetMachine, ...] = ()
        if lab is not None:  # a seat whose lab is gone still gets its trainee's login
            profile = _profile(lab)
            title = title or (profile.community.title if profile.community else "")
            machines = _machines(lab, profile)
        for user in _trainees(users, everyone, seat):
            password = new_password()
            logins.set_password(user.name, password)
            entries.append(
                SheetEntry(seat=seat, login=user.name, password=password, machines=machines)
            )
    return AccessSheet(
        class_name=klass, title=title, made_at=now(), made_by=made_by, entries=tuple(entries)
    )


def _trainees(users: UserStore, everyone: list[User], seat: str) -> list[User]:
    """The trainees assigned to the seat; if none, a new one named after it."""
    found = [u for u in everyone if u.role is Role.TRAINEE and seat in u.labs]
    if found:
        return found
    existing = next((u for u in everyone if u.name == seat), None)
    if existing is not None and existing.role is not Role.TRAINEE:
        raise ConflictError(
            f"user '{seat}' exists with role {existing.role}: the seat's trainee cannot"
            " have that name",
            hint=f"assign a trainee to the seat: lab user assign NAME --lab {seat}",
        )
    if existing is None:
        users.add(seat, Role.TRAINEE)
    users.assign(seat, AssignmentKind.LAB, seat)
    return [users.get(seat)]


def _profile(lab: LabRecord) -> Profile:
    return lab.spec if lab.spec is not None else load_profile(lab.profile_path)


def _machines(lab: LabRecord, profile: Profile) -> tuple[SheetMachine, ...]:
    account = next((a.name for a in profile.accounts if a.kind is AccountKind.TRAINEE), "")
    password = known_passwords(lab.plan.keys_dir).get(account, "") if account else ""
    return tuple(
        SheetMachine(
            machine=m.name,
            graphics=m.graphics,
            address=str(m.management_address),
            account=account if m.managed else "",
            password=password if m.managed else "",
            appliance_logins=_appliance_logins(m),
            managed=m.managed,
        )
        for m in lab.plan.machines
    )


def _appliance_logins(machine: MachinePlan) -> tuple[str, ...]:
    if machine.appliance is None:
        return ()
    return tuple(
        f"{login.user} / {login.password or '(no password)'}"
        + (f" ({login.note})" if login.note else "")
        for login in machine.appliance.logins
    )
