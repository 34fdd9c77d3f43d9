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
from pathlib import Path

from lab.driver.connection import Driver
from lab.host import hosts, targets
from lab.host.facts import AccelChoice, HostFacts, gather_facts, host_accel, qemu_overhead_mib
from lab.host.hosts import PROBE_SECONDS, accepting
from lab.host.model import LOCAL, POOL, HostRecord, HostView
from lab.host.records import HostStore
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


def room(
    driver: Driver,
    facts: HostFacts,
    labs: Sequence[LabRecord],
    overhead_mib: int,
    host: str = LOCAL,
) -> Room:
    """What a host has free for more labs; `overhead_mib`: QEMU's per guest. `facts`:
    the host's available memory and the disk its lab files go to."""
    owed = promised(driver, labs, overhead_mib)
    return Room(
        host=host,
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
    host: str = LOCAL,
) -> Placement:
    """Where the labs of `needs` go, or CapacityError (lab.placement.place) naming the
    shortfall. `labs`: every lab recorded on the host, those of `needs` not among them."""
    asked = {n.lab for n in needs}
    others = [lab for lab in labs if lab.name not in asked]
    return place(needs, [room(driver, facts, others, overhead_mib, host)], what)


def check_fits(
    settings: Settings, driver: Driver, plans: Sequence[LabPlan], what: str
) -> Placement:
    """Whether the labs of `plans` fit on their host (`driver` is connected to it; they
    are all planned for the one host), or CapacityError naming the shortfall; nothing is
    made either way."""
    host = plans[0].host if plans else LOCAL
    check_open(settings, what, host)
    facts, accel = host_facts(settings, driver, host)
    overhead = qemu_overhead_mib(accel)
    needs = [lab_need(p, overhead) for p in plans]
    labs = [lab for lab in StateStore.open(settings).list_labs() if lab.host == host]
    return admit(driver, facts, labs, needs, overhead, what, host)


def host_facts(settings: Settings, driver: Driver, host: str) -> tuple[HostFacts, AccelChoice]:
    """What admission counts of `host`: this machine's own facts for `local`; for another
    server what its libvirtd reports (memory, KVM) and its pool's free disk."""
    if host == LOCAL:
        facts = gather_facts(settings.home)
        return facts, host_accel(settings, facts)
    capacity = driver.node_capacity()
    pool = driver.pool_space(POOL)
    facts = HostFacts(
        kvm_exists=capacity.kvm,
        kvm_accessible=capacity.kvm,
        kvm_pvm=False,
        memory_available_bytes=capacity.memory_available_bytes,
        disk_path=Path(pool.path if pool else str(settings.host_pool)),
        disk_free_bytes=pool.available_bytes if pool else 0,
        tools=(),
    )
    return facts, targets.accel(settings, host, capacity)


def place_labs(
    settings: Settings,
    plans: Sequence[LabPlan],
    what: str,
    probe_seconds: float = PROBE_SECONDS,
) -> Placement:
    """Where the labs of `plans` go among the open hosts (each whole on one, seats of a
    class spread over them), or CapacityError naming the shortfall per host; nothing is
    made either way. A server that does not answer within `probe_seconds`, or that has no
    SSH login for reaching its guests, takes none of them."""
    candidates = [
        h
        for h in HostStore.open(settings).list()
        if not h.draining and (h.name == LOCAL or h.ssh is not None)
    ]
    if not candidates:
        check_open(settings, what)  # `local` is draining: say so
        raise CapacityError(f"{what} has no host to run on", hint="add a host: lab host add")
    found = rooms(settings, candidates, probe_seconds)
    measured = [found[h.name] for h in candidates if h.name in found]  # in the hosts' order
    if not measured:
        raise CapacityError(
            f"{what} has no host to run on: none answered",
            hint="lab host list shows each host and why it does not answer",
        )
    # A lab's QEMU takes more under TCG than under KVM: count the most any host asks.
    overhead = max(o for _, o in measured)
    needs = [lab_need(p, overhead) for p in plans]
    return place(needs, [r for r, _ in measured], what)


def rooms(
    settings: Settings, asked: Sequence[HostRecord], probe_seconds: float = PROBE_SECONDS
) -> dict[str, tuple[Room, int]]:
    """Each host's room for new labs and QEMU's overhead per guest there, asked side by
    side; a host that does not answer within `probe_seconds` is left out."""
    labs = StateStore.open(settings).list_labs()

    def measure(host: HostRecord) -> tuple[Room, int]:
        with Driver.open(host.uri) as driver:
            facts, accel = host_facts(settings, driver, host.name)
            overhead = qemu_overhead_mib(accel)
            on_host = [lab for lab in labs if lab.host == host.name]
            return room(driver, facts, on_host, overhead, host.name), overhead

    return hosts.ask_each(asked, measure, probe_seconds)


def host_views(settings: Settings) -> list[HostView]:
    """Every host as `lab host list` and the API show it, with the room admission counts
    there for new labs (available - promised - reserve)."""
    views = hosts.list_hosts(settings)
    answered = {v.name for v in views if v.reachable}
    found = rooms(settings, [h for h in HostStore.open(settings).list() if h.name in answered])
    shown = []
    for view in views:
        if view.name in found:
            free = found[view.name][0]
            view = view.model_copy(
                update={
                    "memory_promised_bytes": free.memory_promised_bytes,
                    "memory_reserve_bytes": free.memory_reserve_bytes,
                    "memory_free_for_labs_bytes": free.memory_free_bytes,
                }
            )
        shown.append(view)
    return shown


def check_open(settings: Settings, what: str, host: str = LOCAL) -> None:
    """CapacityError when the host takes no new labs (it is draining): cheap, so an
    API request is refused at once, before its operation is accepted."""
    if not accepting(settings, host):
        raise CapacityError(
            f"{what} has no host to run on: host {host} is draining (it keeps its labs and"
            " takes no new ones)",
            hint=f"open it again when its work is done: lab host drain {host} --undo",
        )


def host_room(settings: Settings) -> Room:
    """This host's room for more labs, as `lab host check` and the API show it."""
    facts = gather_facts(settings.home)
    overhead = qemu_overhead_mib(host_accel(settings, facts))
    labs = [lab for lab in StateStore.open(settings).list_labs() if lab.host == LOCAL]
    with Driver.open(settings.libvirt_uri) as driver:
        return room(driver, facts, labs, overhead)
