"""Whether labs fit on this host now: the room it has, and the check before anything is made.

The room counts what is there: the memory the kernel says is available, less what labs
already on the host will still take (a lab's need less what its machines hold resident
now: a lab being made holds little yet, a running lab grows as its guests touch memory),
less a reserve for the host itself. Labs placed at the same time are counted by `place`.
Checks run under the names lock (lab.labs.locks.NAMES) with the labs being made recorded,
so labs asked for side by side count each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.driver.connection import Driver
from lab.host.facts import HostFacts, gather_facts, host_accel, qemu_overhead_mib
from lab.host.hosts import accepting
from lab.host.model import LOCAL
from lab.labs.plan import LabPlan
from lab.labs.records import LabRecord, LabStatus
from lab.placement.model import Need, Placement, Room
from lab.placement.place import HOST_RESERVE, CapacityError, lab_need, place
from lab.settings import Settings
from lab.store.state import StateStore

_HOLDING = (LabStatus.CREATING, LabStatus.RUNNING)


def promised(driver: Driver, labs: Sequence[LabRecord], overhead_mib: int) -> int:
    """Memory the labs being made or running will still take on top of what they hold.
    A machine whose figure cannot be read without waiting (being restored or saved this
    moment) counts as holding nothing yet: its lab owes its whole need, never less."""
    resident = driver.resident_bytes()
    total = 0
    for lab in labs:
        if lab.status not in _HOLDING:
            continue
        need = lab_need(lab.plan, overhead_mib).memory_bytes
        held = sum(resident.get(m.domain, 0) for m in lab.plan.machines)
        total += max(0, need - held)
    return total


def room(driver: Driver, facts: HostFacts, labs: Sequence[LabRecord], overhead_mib: int) -> Room:
    """What this host has free for more labs; `overhead_mib`: QEMU's per guest."""
    owed = promised(driver, labs, overhead_mib)
    return Room(
        host=LOCAL,
        memory_free_bytes=max(0, facts.memory_available_bytes - owed - HOST_RESERVE),
        disk_free_bytes=facts.disk_free_bytes,
        memory_available_bytes=facts.memory_available_bytes,
        memory_promised_bytes=owed,
        memory_reserve_bytes=HOST_RESERVE,
    )


def admit(
    driver: Driver,
    facts: HostFacts,
    labs: Sequence[LabRecord],
    needs: Sequence[Need],
    overhead_mib: int,
    what: str,
) -> Placement:
    """Where the labs of `needs` go, or CapacityError (lab.placement.place) naming the
    shortfall. `labs`: every lab recorded on the host, those of `needs` not among them."""
    asked = {n.lab for n in needs}
    others = [lab for lab in labs if lab.name not in asked]
    return place(needs, [room(driver, facts, others, overhead_mib)], what)


def check_fits(
    settings: Settings, driver: Driver, plans: Sequence[LabPlan], what: str
) -> Placement:
    """Where the labs of `plans` go on the hosts there are, or CapacityError naming the
    shortfall; nothing is made either way."""
    check_open(settings, what)
    facts = gather_facts(settings.home)
    overhead = qemu_overhead_mib(host_accel(settings, facts))
    needs = [lab_need(p, overhead) for p in plans]
    labs = StateStore.open(settings).list_labs()
    return admit(driver, facts, labs, needs, overhead, what)


def check_open(settings: Settings, what: str) -> None:
    """CapacityError when no host takes new labs (every one is draining): cheap, so an
    API request is refused at once, before its operation is accepted."""
    if not accepting(settings, LOCAL):
        raise CapacityError(
            f"{what} has no host to run on: host {LOCAL} is draining (it keeps its labs and"
            " takes no new ones)",
            hint=f"open it again when its work is done: lab host drain {LOCAL} --undo",
        )


def host_room(settings: Settings) -> Room:
    """This host's room for more labs, as `lab host check` and the API show it."""
    facts = gather_facts(settings.home)
    overhead = qemu_overhead_mib(host_accel(settings, facts))
    with Driver.open(settings.libvirt_uri) as driver:
        return room(driver, facts, StateStore.open(settings).list_labs(), overhead)
