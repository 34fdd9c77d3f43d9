"""Lab hosts as the orchestrator records and shows them (pure models)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from lab.base import Frozen

LOCAL = "local"  # the host of LAB_LIBVIRT_URI, always there
POOL = "hromada-lab"  # the storage pool lab volumes go to on an added host


class Accel(StrEnum):
    """Which accelerator guests run under. `auto` picks KVM when it is usable, else TCG."""

    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"


class SshJump(Frozen):
    """How the control node's SSH reaches a server, to go on from there to its guests
    (their management networks are bridges on that server only): OpenSSH's ProxyJump."""

    user: str
    host: str
    port: int = 22
    key: Path | None = None  # None: the service user's own keys (~/.ssh)
    known_hosts: Path | None = None  # None: the service user's ~/.ssh/known_hosts

    @property
    def target(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class HostTarget(Frozen):
    """The host a lab is made on, as its plan needs it: where its files go there (its
    pool's directory; None on `local`, whose labs live under LAB_HOME) and how its
    guests are reached from this machine."""

    name: str = LOCAL
    pool_path: Path | None = None
    jump: SshJump | None = None


class HostRecord(Frozen):
    name: str
    uri: str  # for `local`, LAB_LIBVIRT_URI
    draining: bool = False  # keeps its labs, takes no new ones
    added_at: datetime
    ssh: SshJump | None = None  # how guests on it are reached; None on `local`
    # Its own LAB_ACCEL: `auto` takes KVM when its libvirtd offers it; `tcg` for a server
    # whose KVM cannot run stock guest kernels (KVM in PVM mode reports KVM all the same).
    accel: Accel = Accel.AUTO


class HostView(Frozen):
    """A host as `lab host list` and the API show it: what it has, as seen just now."""

    name: str
    uri: str
    draining: bool
    reachable: bool
    problem: str = ""  # why it could not be read, when it could not
    hint: str = ""
    accel: str | None = None  # "kvm" or "tcg"
    cpus: int | None = None
    memory_total_bytes: int | None = None
    memory_available_bytes: int | None = None
    disk_path: str | None = None  # where its lab files go (LAB_HOME, or its pool)
    disk_free_bytes: int | None = None
    labs: tuple[str, ...] = ()  # the labs recorded on it
    # What admission counts for new labs there: available - promised - reserve (the
    # arithmetic of lab.placement.admission; None when it could not be asked).
    memory_promised_bytes: int | None = None  # what its labs will still take
    memory_reserve_bytes: int | None = None  # kept for the host itself
    memory_free_for_labs_bytes: int | None = None
