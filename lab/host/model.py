"""Lab hosts as the orchestrator records and shows them (pure models)."""

from __future__ import annotations

from datetime import datetime

from lab.base import Frozen

LOCAL = "local"  # the host of LAB_LIBVIRT_URI, always there
POOL = "hromada-lab"  # the storage pool lab volumes go to on an added host


class HostRecord(Frozen):
    name: str
    uri: str  # for `local`, LAB_LIBVIRT_URI
    draining: bool = False  # keeps its labs, takes no new ones
    added_at: datetime


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
