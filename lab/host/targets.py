"""The host a lab is on, as the lab's use cases need it: its libvirt URI, where the lab's
files go there, how its guests are reached, its accelerator and its boot slots.

`local` (LAB_LIBVIRT_URI) keeps the single-server setup as it always was: files under
LAB_HOME, guests on this machine's bridges, the accelerator from this machine's facts.
Another server gets its files in its pool (lab.host.model.POOL), its guests through its
SSH (ProxyJump) and the accelerator its libvirtd offers.
"""

from __future__ import annotations

from pathlib import Path

from lab.driver.connection import Driver, NodeCapacity
from lab.errors import HostError, InvalidError
from lab.host.facts import AccelChoice, choose_server_accel, host_accel
from lab.host.hosts import PROBE_SECONDS, open_within
from lab.host.model import LOCAL, POOL, HostRecord, HostTarget
from lab.host.records import HostStore
from lab.settings import Accel, Settings


def uri_of(settings: Settings, host: str) -> str:
    """The libvirt URI of host `host` (NotFoundError for one nobody added)."""
    if host == LOCAL:
        return settings.libvirt_uri
    return HostStore.open(settings).get(host).uri


def connect(settings: Settings, host: str) -> Driver:
    """A connection to the libvirtd of host `host` (NotFoundError for one nobody added).
    A server that hangs rather than refuses is given up on after PROBE_SECONDS with a
    DriverError (lab.host.hosts.open_within): libvirt's connect has no timeout."""
    if host == LOCAL:
        return Driver.open(settings.libvirt_uri)
    return open_within(uri_of(settings, host), PROBE_SECONDS)


def target(driver: Driver, record: HostRecord) -> HostTarget:
    """Where a new lab's files go on `record`'s host and how its guests are reached;
    `driver` is connected to that host."""
    if record.name == LOCAL:
        return HostTarget()
    if record.ssh is None:
        raise InvalidError(
            f"host {record.name} has no SSH login for reaching its guests",
            hint=f"remove it and add it again with --ssh USER@HOST (lab host remove"
            f" {record.name}; lab host add {record.name} URI --ssh ...)",
        )
    pool = driver.pool_space(POOL)
    if pool is None:
        raise HostError(
            f"host {record.name} has no storage pool {POOL} (or it is stopped)",
            hint=f"remove the host and add it again to make the pool: lab host remove"
            f" {record.name}; lab host add {record.name} {record.uri}",
        )
    return HostTarget(name=record.name, pool_path=Path(pool.path), jump=record.ssh)


def accel(settings: Settings, host: str, capacity: NodeCapacity | None) -> AccelChoice:
    """The accelerator guests get on `host`: under LAB_ACCEL from this machine's facts for
    `local`; for another server under its own choice (`lab host add --accel`, else
    LAB_ACCEL) from what its libvirtd offers (`capacity`)."""
    if host == LOCAL or capacity is None:
        return host_accel(settings)
    own = HostStore.open(settings).get(host).accel
    requested = settings.accel if own is Accel.AUTO else own
    return choose_server_accel(requested, host, capacity.kvm, settings.tcg_cache)


def slots_dir(settings: Settings, host: str) -> Path:
    """The boot slots (lab.host.slots) of `host`, shared by every lab booting there."""
    if host == LOCAL:
        return settings.boot_slots_dir
    return settings.boot_slots_dir / "hosts" / host
