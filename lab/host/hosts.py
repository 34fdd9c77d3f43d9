"""Lab hosts: adding a server, what each has, draining and removing one.

Each host is a libvirtd reached through its URI (lab.host.uris); the orchestrator asks
it through libvirt alone what it has (CPUs, memory, KVM) and, on an added host, keeps
lab volumes in a storage pool of its own there (lab.host.model.POOL), made on the
host's first add. `local` is the host of LAB_LIBVIRT_URI: it is described by this
machine's own facts, the same ones admission counts (lab.placement.admission).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from lab.driver.connection import Driver, NodeCapacity, PoolSpace
from lab.driver.specs import VirtType
from lab.errors import ConflictError, DriverError, InvalidError, LabError, quote
from lab.host.facts import gather_facts, host_accel
from lab.host.model import LOCAL, POOL, HostRecord, HostView
from lab.host.records import HostStore
from lab.host.uris import check_host_uri, is_local, ssh_jump
from lab.labs import guest
from lab.labs.naming import valid_lab_name
from lab.settings import Accel, Settings
from lab.store.state import StateStore, now

T = TypeVar("T")

# How long `list_hosts` waits for a host to answer before calling it unreachable (an
# ssh connection to a dead server can take minutes to give up on its own).
PROBE_SECONDS = 15.0


def open_within(uri: str, seconds: float = PROBE_SECONDS) -> Driver:
    """A connection to the libvirtd of `uri`, or DriverError when none is made within
    `seconds`: libvirt's connect has no timeout of its own, and a server that hangs (rather
    than refuses) would hold its caller for good. A connection made after the caller gave
    up is closed at once."""
    lock = threading.Lock()
    made: list[Driver] = []
    failed: list[LabError] = []
    given_up = False

    def connect() -> None:
        try:
            driver = Driver.open(uri)
        except LabError as exc:
            failed.append(exc)
            return
        with lock:
            if given_up:
                driver.close()
            else:
                made.append(driver)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(seconds)
    with lock:
        given_up = not made and not failed
    if failed:
        raise failed[0]
    if made:
        return made[0]
    raise DriverError(
        f"libvirt at {uri} did not answer within {seconds:.0f} s",
        hint=f"is the server up and its libvirtd running? try: virsh -c {uri} version",
    )


def check_host_name(name: str) -> str:
    """`name` if it may name a host: a DNS label, like a lab's name."""
    if not valid_lab_name(name):
        raise InvalidError(
            f"{quote(name)} is not a valid host name",
            hint="use 1 to 32 lower-case letters, digits and '-' (e.g. lab2)",
        )
    return name


def add_host(
    settings: Settings,
    name: str,
    uri: str,
    ssh: str | None = None,
    ssh_key: Path | None = None,
    ssh_known_hosts: Path | None = None,
    accel: Accel = Accel.AUTO,
) -> HostView:
    """Record the host of `uri` as `name` once its libvirtd answers there, and its SSH
    too (how guests on it are reached: `ssh`, else a qemu+ssh URI's own login); make the
    pool lab volumes will go to (LAB_HOST_POOL on that host) if it has none. `accel`: the
    host's own LAB_ACCEL (`auto`: LAB_ACCEL's)."""
    name = check_host_name(name)
    uri = check_host_uri(uri)
    if is_local(uri):
        raise InvalidError(
            f"{quote(uri)} is this machine's own libvirt: it is host {LOCAL} already",
            hint="add a server by its remote URI (qemu+ssh://... or qemu+tls://...)",
        )
    jump = ssh_jump(uri, ssh, ssh_key, ssh_known_hosts)
    store = HostStore.open(settings)
    if store.find(name) is not None:
        raise ConflictError(f"a host named {quote(name)} is known already", hint="lab host list")
    try:
        with Driver.open(uri) as driver:
            capacity = driver.node_capacity()
            pool = driver.ensure_dir_pool(POOL, str(settings.host_pool))
    except LabError as exc:
        raise type(exc)(
            f"host {name} was not added: {exc.message}",
            hint=exc.hint + "; a new server is prepared with playbooks/host.yml, and the"
            " control node's service user must reach it (ssh key, or TLS certificates)",
        ) from exc
    if jump is not None:
        try:
            guest.check_jump(jump)
        except LabError as exc:
            raise type(exc)(f"host {name} was not added: {exc.message}", hint=exc.hint) from exc
    store.add(HostRecord(name=name, uri=uri, added_at=now(), ssh=jump, accel=accel))
    return _server_view(
        HostView(name=name, uri=uri, draining=False, reachable=False), capacity, pool, accel
    )


def ask_each(
    hosts: Sequence[HostRecord], ask: Callable[[HostRecord], T], seconds: float
) -> dict[str, T]:
    """`ask` of every host, side by side; what answered within `seconds` (one deadline for
    all), by host name. A host whose `ask` failed or still hangs is left out; its thread
    is a daemon, so a server that hangs holds neither the caller nor the process's exit."""
    answers: dict[str, T] = {}
    lock = threading.Lock()

    def one(host: HostRecord) -> None:
        try:
            answer = ask(host)
        except LabError:
            return
        with lock:
            answers[host.name] = answer

    threads = [threading.Thread(target=one, args=(h,), daemon=True) for h in hosts]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return dict(answers)


def list_hosts(settings: Settings, probe_seconds: float = PROBE_SECONDS) -> list[HostView]:
    """Every host (`local` first) with what it has now and the labs on it. The hosts are
    asked side by side; one that does not answer in `probe_seconds` is unreachable."""
    hosts = HostStore.open(settings).list()
    labs: dict[str, list[str]] = defaultdict(list)
    for lab in StateStore.open(settings).list_labs():
        labs[lab.host].append(lab.name)
    views = ask_each(
        hosts, lambda h: _view(settings, h, tuple(sorted(labs[h.name]))), probe_seconds
    )
    return [
        views.get(h.name)
        or HostView(
            name=h.name,
            uri=h.uri,
            draining=h.draining,
            reachable=False,
            problem=f"no answer within {probe_seconds:.0f} s",
            hint=f"is the server up and its libvirtd running? try: virsh -c {h.uri} version",
            labs=tuple(sorted(labs[h.name])),
        )
        for h in hosts
    ]


def _view(settings: Settings, host: HostRecord, labs: tuple[str, ...]) -> HostView:
    seen = HostView(
        name=host.name, uri=host.uri, draining=host.draining, reachable=False, labs=labs
    )
    try:
        with Driver.open(host.uri) as driver:
            capacity = driver.node_capacity()
            pool = None if host.name == LOCAL else driver.pool_space(POOL)
    except LabError as exc:
        return seen.model_copy(update={"problem": exc.message, "hint": exc.hint})
    if host.name == LOCAL:  # this machine: the facts admission counts
        facts = gather_facts(settings.home)
        return seen.model_copy(
            update={
                "reachable": True,
                "accel": "kvm" if host_accel(settings, facts).virt_type is VirtType.KVM else "tcg",
                "cpus": capacity.cpus,
                "memory_total_bytes": capacity.memory_total_bytes,
                "memory_available_bytes": facts.memory_available_bytes,
                "disk_path": str(facts.disk_path),
                "disk_free_bytes": facts.disk_free_bytes,
            }
        )
    return _server_view(seen, capacity, pool, host.accel)


def _server_view(
    seen: HostView, capacity: NodeCapacity, pool: PoolSpace | None, accel: Accel
) -> HostView:
    """An added server as its libvirtd describes it: its node and its pool's room."""
    return seen.model_copy(
        update={
            "reachable": True,
            "accel": "kvm" if capacity.kvm and accel is not Accel.TCG else "tcg",
            "cpus": capacity.cpus,
            "memory_total_bytes": capacity.memory_total_bytes,
            "memory_available_bytes": capacity.memory_available_bytes,
            "disk_path": pool.path if pool else None,
            "disk_free_bytes": pool.available_bytes if pool else None,
            "problem": "" if pool else f"its storage pool {POOL} is missing or stopped",
            "hint": "" if pool else "remove the host and add it again to make the pool",
        }
    )


def drain(settings: Settings, name: str, draining: bool = True) -> HostRecord:
    """Mark the host draining (its labs stay, new ones go elsewhere) or open it again."""
    return HostStore.open(settings).set_draining(name, draining)


def remove(settings: Settings, name: str) -> None:
    """Forget an added host. Refused for `local` and while labs are recorded on it; the
    host itself, its pool and anything in it are left as they are."""
    store = HostStore.open(settings)
    host = store.get(name)
    if host.name == LOCAL:
        raise ConflictError(
            f"{LOCAL} is the host of LAB_LIBVIRT_URI and cannot be removed",
            hint=f"to take no new labs on it: lab host drain {LOCAL}",
        )
    on = sorted(lab.name for lab in StateStore.open(settings).list_labs() if lab.host == name)
    if on:
        raise ConflictError(
            f"host {name} still has labs: {', '.join(on)}",
            hint=f"take them down first (lab down LAB); `lab host drain {name}` keeps new"
            " ones off it meanwhile",
        )
    store.delete(name)


def accepting(settings: Settings, name: str = LOCAL) -> bool:
    """Whether new labs may be placed on host `name` (it is not draining)."""
    return not HostStore.open(settings).get(name).draining
