"""What placement works with: what a lab needs, and what a host has room for."""

from __future__ import annotations

from lab.base import Frozen


class Need(Frozen):
    """What one lab holds on its host once it is up and baselined."""

    lab: str
    memory_bytes: int  # its machines' memory, plus what QEMU itself takes for each
    disk_bytes: int  # its memory states and what its overlays grow to


class Room(Frozen):
    """What one host has free for labs not yet placed there."""

    host: str
    memory_free_bytes: int
    disk_free_bytes: int
    # The arithmetic behind memory_free_bytes, as `lab host check` shows it.
    memory_available_bytes: int = 0  # what the kernel says is available now
    memory_promised_bytes: int = 0  # what labs already there will still take
    memory_reserve_bytes: int = 0  # kept for the host itself


class Placement(Frozen):
    """Each lab's host, in the order the labs were given."""

    hosts: tuple[tuple[str, str], ...]  # (lab, host)

    def host_of(self, lab: str) -> str:
        return dict(self.hosts)[lab]
