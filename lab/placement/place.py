"""Where labs go (pure): each lab whole on one host, or a refusal naming the shortfall.

A lab's networks never span hosts, so a lab is the unit placed. Labs are placed largest
first, each on the host with the most memory left (seats of a class spread over the
hosts); a lab that fits nowhere refuses the whole request, before anything is made.
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.errors import ConflictError
from lab.labs.plan import LabPlan
from lab.placement.model import Need, Placement, Room

MIB = 1 << 20
GIB = 1 << 30

# What a machine's overlay grows to once provisioned and used for a session (its image
# is shared and read-only; packages are baked into role images).
OVERLAY_GROWTH = 512 * MIB
# Kept free for the host's own work (libvirtd, the API, page cache for images).
HOST_RESERVE = 1 * GIB


class CapacityError(ConflictError):
    """The labs asked for do not fit on the hosts there are, as they are now."""


def lab_need(plan: LabPlan, overhead_mib: int) -> Need:
    """What the lab of `plan` holds on its host: each machine's memory and what its
    QEMU holds beside it (`overhead_mib`, lab.host.facts.qemu_overhead_mib); on disk,
    each machine's memory state (a baseline) and its disks' growth."""
    memory = sum((m.memory_mib + overhead_mib) * MIB for m in plan.machines)
    disk = sum(m.memory_mib * MIB + len(m.layers) * OVERLAY_GROWTH for m in plan.machines)
    return Need(lab=plan.lab, memory_bytes=memory, disk_bytes=disk)


def place(needs: Sequence[Need], rooms: Sequence[Room], what: str) -> Placement:
    """Each lab's host, or CapacityError naming what `what` (a lab, a class) needs and
    what each host has free. Pure: the rooms already count labs placed before."""
    if not rooms:
        raise CapacityError(f"{what} has no host to run on", hint="add a host: lab host add")
    memory = {r.host: r.memory_free_bytes for r in rooms}
    disk = {r.host: r.disk_free_bytes for r in rooms}
    chosen: dict[str, str] = {}
    for need in sorted(needs, key=lambda n: (-n.memory_bytes, n.lab)):
        fitting = [
            h for h in memory if memory[h] >= need.memory_bytes and disk[h] >= need.disk_bytes
        ]
        if not fitting:
            raise CapacityError(shortfall(needs, rooms, what), hint=_HINT)
        host = max(fitting, key=lambda h: (memory[h], disk[h]))
        memory[host] -= need.memory_bytes
        disk[host] -= need.disk_bytes
        chosen[need.lab] = host
    return Placement(hosts=tuple((n.lab, chosen[n.lab]) for n in needs))


_HINT = (
    "take labs down that are no longer used (`lab list`), ask for fewer seats, or add a"
    " host; `lab host check` shows what is free and why"
)


def shortfall(needs: Sequence[Need], rooms: Sequence[Room], what: str) -> str:
    """One line: what is asked for (`12 × 1.3 GiB` when the labs are alike) against what
    each host has free, memory and disk."""
    asked = _amount([n.memory_bytes for n in needs])
    free = ", ".join(f"{r.host} {gib(r.memory_free_bytes)}" for r in rooms)
    disk_asked = _amount([n.disk_bytes for n in needs])
    disk_free = ", ".join(f"{r.host} {gib(r.disk_free_bytes)}" for r in rooms)
    return (
        f"{what} does not fit: it needs {asked} of memory (free: {free})"
        f" and {disk_asked} of disk (free: {disk_free})"
    )


def _amount(sizes: Sequence[int]) -> str:
    if len(sizes) > 1 and len(set(sizes)) == 1:
        return f"{len(sizes)} × {gib(sizes[0])}"
    return gib(sum(sizes))


def gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"
