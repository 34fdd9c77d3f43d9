"""Cross-checks of a course against its profile, over plain data: only refuse what cannot work.

A course names machines, accounts and shares of one profile. Whatever a check asks of a
machine must be possible there: the lab logs into a **managed** machine to look at its
files, services, users, commands and databases, but never into an appliance, which is
checked from the outside (port, http, share) only; a check asked `from` another machine
needs that machine to be managed and on a network with the one checked; a `share` check
logs in as a staff account, whose password is the lab's, to a file server.

Like lab.profile.checks, these run over the raw YAML data (anything malformed is skipped:
the field validators report it), so the loader reports them with pydantic's errors, each
with a key path it turns into a line and column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lab.courses.model import CheckKind
from lab.profile import AccountKind, Machine, Profile
from lab.profile.checks import Loc
from lab.profile.types import shown

# Checks that log into the machine checked (run something there as root).
LOGIN_KINDS = frozenset(
    {CheckKind.FILE, CheckKind.SERVICE, CheckKind.USER, CheckKind.COMMAND, CheckKind.SQL}
)
# Checks asked over the network, from a managed machine of the lab.
NETWORK_KINDS = frozenset({CheckKind.PORT, CheckKind.HTTP, CheckKind.SHARE})
FILE_SERVER_ROLE = "file-server"
DUPLICATE_TASK = "two tasks have the id"  # the words of Course's own check


def course_problems(data: Mapping[str, Any], profile: Profile) -> list[tuple[Loc, str]]:
    """Every problem between a course (plain data, as read) and its profile, as
    (key path, message), in the order of the file."""
    tasks = data.get("tasks")
    if not isinstance(tasks, list):
        return []
    problems: list[tuple[Loc, str]] = []
    for i, task in enumerate(tasks):
        if isinstance(task, Mapping):
            problems.extend(_task(("tasks", i), task, profile))
    return problems


def duplicate_tasks(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """A task id given twice, located at the second (Course's own check says it without a
    line)."""
    tasks = data.get("tasks")
    found: list[tuple[Loc, str]] = []
    seen: set[str] = set()
    for i, task in enumerate(tasks if isinstance(tasks, list) else []):
        task_id = task.get("id") if isinstance(task, Mapping) else None
        if isinstance(task_id, str) and task_id in seen:
            found.append((("tasks", i, "id"), f"{DUPLICATE_TASK} {task_id!r}"))
        if isinstance(task_id, str):
            seen.add(task_id)
    return found


def _task(loc: Loc, task: Mapping[str, Any], profile: Profile) -> Iterator[tuple[Loc, str]]:
    machine = task.get("machine")
    task_machine = _machine(profile, machine)
    if isinstance(machine, str) and task_machine is None:
        yield (*loc, "machine"), _unknown_machine(machine, profile)
    checks = task.get("checks")
    if not isinstance(checks, list):
        return
    for j, check in enumerate(checks):
        if isinstance(check, Mapping):
            yield from _check((*loc, "checks", j), check, task_machine, profile)


def _check(
    loc: Loc, check: Mapping[str, Any], task_machine: Machine | None, profile: Profile
) -> Iterator[tuple[Loc, str]]:
    kinds = [kind for kind in CheckKind if kind.value in check]
    if len(kinds) != 1:
        return  # the model's discriminator says so
    kind = kinds[0]
    named = check.get("machine")
    if named is None:
        machine = task_machine
    else:
        machine = _machine(profile, named)
        if isinstance(named, str) and machine is None:
            yield (*loc, "machine"), _unknown_machine(named, profile)
    if machine is None:
        return  # unknown (reported) or malformed (the model reports it)
    if kind in LOGIN_KINDS and not machine.managed:
        yield (
            (*loc, kind.value),
            f"a {kind.value} check logs into the machine, but {machine.name!r} is an appliance"
            " the lab does not log into: check it with port, http or share checks",
        )
    if kind in NETWORK_KINDS:
        yield from _network_check(loc, kind, check, machine, profile)


def _network_check(
    loc: Loc, kind: CheckKind, check: Mapping[str, Any], machine: Machine, profile: Profile
) -> Iterator[tuple[Loc, str]]:
    if not machine.managed and not _addresses(machine):  # a managed one gets one from the plan
        yield (
            (*loc, kind.value),
            f"a {kind.value} check asks {machine.name!r} over the network, but it has no"
            " address in the profile (give one of its nics an `address`)",
        )
    asker = check.get("from")
    if asker is None:
        if not any(_askers(machine, profile)):
            yield (
                (*loc, kind.value),
                f"no managed machine shares a network with {machine.name!r} to ask it from",
            )
    elif isinstance(asker, str):
        yield from _from((*loc, "from"), asker, machine, profile)
    if kind is CheckKind.SHARE:
        yield from _share(loc, check, machine, profile)


def _from(loc: Loc, name: str, machine: Machine, profile: Profile) -> Iterator[tuple[Loc, str]]:
    asker = _machine(profile, name)
    if asker is None:
        yield loc, _unknown_machine(name, profile)
    elif not asker.managed:
        yield loc, f"{name!r} is an appliance: a check is asked from a managed machine"
    elif not _networks(asker) & _networks(machine):
        yield (
            loc,
            f"{name!r} shares no network with {machine.name!r} (it is on"
            f" {_listed(_networks(asker))}; {machine.name!r} on {_listed(_networks(machine))})",
        )


def _share(
    loc: Loc, check: Mapping[str, Any], machine: Machine, profile: Profile
) -> Iterator[tuple[Loc, str]]:
    account = check.get("account")
    staff = {a.name: a for a in profile.accounts if a.kind is AccountKind.STAFF}
    if isinstance(account, str) and account not in staff:
        yield (
            (*loc, "account"),
            f"{shown(account)} is not a staff account of the profile (staff: {_listed(staff)});"
            " a share check logs in as one, with the lab's password",
        )
    if not machine.managed:
        return  # an appliance's shares are its own: the profile does not know them
    if FILE_SERVER_ROLE not in machine.roles:
        yield (
            (*loc, "share"),
            f"{machine.name!r} serves no shares: it has no role {FILE_SERVER_ROLE}"
            f" (its roles: {_listed(machine.roles)})",
        )
    # Its shares and who may use them are not cross-checked: a task may change them.


def _machine(profile: Profile, name: Any) -> Machine | None:
    if not isinstance(name, str):
        return None
    try:
        return profile.machine(name)
    except KeyError:
        return None


def _unknown_machine(name: str, profile: Profile) -> str:
    names = _listed(m.name for m in profile.machines)
    return f"unknown machine {shown(name)} (the profile has: {names})"


def _networks(machine: Machine) -> set[str]:
    return {nic.network for nic in machine.nics}


def _addresses(machine: Machine) -> list[str]:
    return [str(nic.address) for nic in machine.nics if nic.address is not None]


def _askers(machine: Machine, profile: Profile) -> Iterator[Machine]:
    for other in profile.machines:
        if other.managed and _networks(other) & _networks(machine):
            yield other


def _listed(names: Any) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "none"
