"""The one module that imports libvirt: a small typed facade over a libvirt connection.

Every `libvirt.libvirtError` leaves this module as a `LabError` subclass with a hint:
`NotFoundError` (no such domain/network), `ConflictError` (exists already, or wrong state
for the operation), else `DriverError`. Results are plain values or frozen models.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from enum import StrEnum
from ipaddress import IPv4Network
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import libvirt
import libvirt_qemu
from pydantic import BaseModel, ConfigDict

from lab.driver import saved_state
from lab.driver.domain_xml import has_nvram, metadata_values, vnc_endpoint
from lab.driver.filter_bindings import (
    FilterBinding,
    binding_xml,
    bindings_of,
    matches,
    tap_and_owner,
)
from lab.driver.network_xml import ipv4_subnets
from lab.driver.pool_xml import (
    backing_path,
    dir_pool_xml,
    frozen_xml,
    overlay_xml,
    volume_xml,
)
from lab.driver.specs import METADATA_NS
from lab.errors import ConflictError, DriverError, LabError, NotFoundError

_NOT_FOUND = {
    libvirt.VIR_ERR_NO_DOMAIN,
    libvirt.VIR_ERR_NO_NETWORK,
    libvirt.VIR_ERR_NO_DOMAIN_METADATA,
}
_CONFLICT = {
    libvirt.VIR_ERR_OPERATION_INVALID,
    libvirt.VIR_ERR_DOM_EXIST,
    libvirt.VIR_ERR_NETWORK_EXIST,
}
_NWFILTER_HINT = (
    "lab NICs need libvirt's nwfilter driver (Debian: libvirt-daemon-system); without"
    " anti-spoofing: LAB_NIC_FILTER=none"
)
# The agent is absent, not yet started by the guest, or did not answer in time.
_AGENT_SILENT = {libvirt.VIR_ERR_AGENT_UNRESPONSIVE, libvirt.VIR_ERR_OPERATION_TIMEOUT}

# What undefine removes along with the domain: its managed-save image and the metadata of
# its internal snapshots, and a UEFI machine's variables file, without which libvirt
# refuses to undefine it. NVRAM only for a domain that names one: libvirt's test driver
# refuses the flag. Not checkpoints: no incremental backup here, and the test driver
# refuses that flag too.
_UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)
_UNDEFINE_UEFI_FLAGS = _UNDEFINE_FLAGS | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM


def _ignore_libvirt_error(_ctx: object, _err: object) -> None:
    """libvirt's default handler prints every error to stderr; we raise them instead."""


libvirt.registerErrorHandler(_ignore_libvirt_error, None)


class DomainState(StrEnum):
    NOSTATE = "nostate"
    RUNNING = "running"
    BLOCKED = "blocked"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"  # being shut down
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    PMSUSPENDED = "pmsuspended"
    MISSING = "missing"  # not defined in libvirt at all (reported by `lab status`)


_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.PMSUSPENDED,
}
# The states in which a domain's QEMU, and so its taps, exist.
HAS_TAPS = frozenset(
    {DomainState.RUNNING, DomainState.BLOCKED, DomainState.PAUSED, DomainState.SHUTDOWN}
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Versions(_Frozen):
    libvirt: str
    hypervisor_type: str  # "QEMU", or "TEST" for test:///default
    hypervisor: str


class NodeCapacity(_Frozen):
    """What a libvirt host has, as its libvirtd reports it (any host, remote included)."""

    cpus: int
    memory_total_bytes: int
    # free + buffers + page cache: what the host's kernel could give guests now (the
    # counterpart of /proc/meminfo's MemAvailable, which libvirt does not report)
    memory_available_bytes: int
    kvm: bool  # libvirt there offers KVM domains (else guests run under TCG)


class PoolSpace(_Frozen):
    """A storage pool on a libvirt host: where it is and the room it has."""

    name: str
    path: str
    capacity_bytes: int
    available_bytes: int


class DhcpLease(_Frozen):
    mac: str
    ip: str
    hostname: str
    expiry: int  # seconds since the epoch


# libvirt refuses to refresh a pool while a volume of it is being made or filled (another
# lab's seed upload, an image copy): such jobs take seconds, so a refresh waits them out.
_POOL_BUSY = "asynchronous jobs running"
_POOL_BUSY_WAIT = 120.0


def _refresh(pool: Any) -> None:
    deadline = time.monotonic() + _POOL_BUSY_WAIT
    while True:
        try:
            pool.refresh(0)
            return
        except libvirt.libvirtError as exc:
            if _POOL_BUSY not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _version(number: int) -> str:
    """libvirt packs versions as major * 1_000_000 + minor * 1_000 + micro."""
    return f"{number // 1_000_000}.{number // 1_000 % 1_000}.{number % 1_000}"


def _connect_hint(uri: str) -> str:
    return (
        f"is libvirtd running and reachable at {uri}? on this machine start it in the lab "
        "namespace: scripts/labns up hromada; check LAB_LIBVIRT_URI"
    )


class Console:
    """A domain's serial console as a byte stream, for worker threads.

    `read` blocks until the guest writes something (b"" once the console has ended:
    the domain stopped, or another session took the console over); `write` sends
    keystrokes. `close` ends it, from any thread, and wakes a `read` blocked on it.
    """

    def __init__(self, stream: Any, domain: str) -> None:
        self._stream = stream
        self.domain = domain
        self._closed = threading.Event()

    def read(self, size: int = 4096) -> bytes:
        try:
            data = self._stream.recv(size)
        except libvirt.libvirtError as exc:
            if self._closed.is_set():
                return b""
            raise DriverError(
                f"the console of {self.domain} ended: {exc.get_error_message()}",
                hint="another session may have taken it over; open it again",
            ) from exc
        # An int is "would block" (-2, only for non-blocking streams) or an error (-1).
        return b"" if isinstance(data, int) else bytes(data)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self._stream.send(bytes(view))
            except libvirt.libvirtError as exc:
                raise DriverError(
                    f"cannot type into the console of {self.domain}: {exc.get_error_message()}",
                    hint="the console has ended; open it again",
                ) from exc
            if sent < 0:
                raise DriverError(
                    f"cannot type into the console of {self.domain}", hint="open it again"
                )
            view = view[sent:]

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._stream.abort()
        except libvirt.libvirtError:
            return  # ended already: nothing is left to release


class Driver:
    """An open libvirt connection. Use as a context manager: `with Driver.open(uri) as d:`."""

    def __init__(self, conn: Any, uri: str) -> None:
        self._conn = conn
        self.uri = uri

    @classmethod
    def open(cls, uri: str) -> Driver:
        """Connect to `uri` (the caller's LAB_LIBVIRT_URI: the driver reads no settings)."""
        try:
            conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise DriverError(
                f"cannot connect to libvirt at {uri}: {exc.get_error_message()}",
                hint=_connect_hint(uri),
            ) from exc
        return cls(conn, uri)

    def close(self) -> None:
        if not self._alive():
            return  # libvirtd went away: nothing to close, and the error said so already
        with self._errors("close the libvirt connection"):
            self._conn.close()

    def _alive(self) -> bool:
        try:
            return bool(self._conn.isAlive())
        except libvirt.libvirtError:
            return False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _errors(self, action: str, hint: str = "") -> Iterator[None]:
        """Turn a libvirtError raised while doing `action` into the matching LabError."""
        try:
            yield
        except libvirt.libvirtError as exc:
            raise self._translate(exc, action, hint) from exc

    def _translate(self, exc: Any, action: str, hint: str) -> LabError:
        code = exc.get_error_code()
        message = f"cannot {action}: {exc.get_error_message()}"
        if not self._alive():
            return DriverError(
                f"{message} (the connection to libvirtd at {self.uri} was lost)",
                "libvirtd stopped or restarted during the operation; once it answers again "
                "(`lab host check`), run `lab reconcile` and then try again",
            )
        if code in _NOT_FOUND:
            return NotFoundError(
                message, hint or f"list what exists: virsh -c {self.uri} list --all"
            )
        if code in _CONFLICT:
            return ConflictError(
                message, hint or "it exists already or is in the wrong state for this; check it"
            )
        return DriverError(message, hint or f"look at libvirt's log for {self.uri}")

    # -- host ---------------------------------------------------------------------------

    def versions(self) -> Versions:
        with self._errors("read libvirt and hypervisor versions"):
            return Versions(
                libvirt=_version(int(self._conn.getLibVersion())),
                hypervisor_type=str(self._conn.getType()),
                hypervisor=_version(int(self._conn.getVersion())),
            )

    def firmware_loaders(self, virt_type: str) -> tuple[str, ...]:
        """The firmware files the host's QEMU offers guests of `virt_type` (`<os><loader>`
        of libvirt's domain capabilities): UEFI's among them where it is installed."""
        with self._errors("read the host's domain capabilities"):
            caps = self._conn.getDomainCapabilities(None, "x86_64", None, virt_type, 0)
        return tuple(v.text for v in ET.fromstring(caps).iterfind("os/loader/value") if v.text)

    def node_capacity(self) -> NodeCapacity:
        """CPUs, memory and whether KVM is offered on the connection's host."""
        with self._errors("read the host's CPUs and memory"):
            info = self._conn.getInfo()
            caps = ET.fromstring(self._conn.getCapabilities())
            # getInfo's memory is not the host's here (9,305 MiB on a 24 GiB machine, where
            # the node's memory statistics agree with /proc/meminfo): the statistics first.
            total = int(info[1]) << 20
            try:
                stats = self._conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
                total = 1024 * int(stats.get("total", total >> 10))
                available = 1024 * sum(int(stats.get(k, 0)) for k in ("free", "buffers", "cached"))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                    raise
                available = int(self._conn.getFreeMemory())  # libvirt's test driver
        kvm = any(d.get("type") == "kvm" for d in caps.iterfind("guest/arch/domain"))
        return NodeCapacity(
            cpus=int(info[2]),
            memory_total_bytes=total,
            memory_available_bytes=available,
            kvm=kvm,
        )

    # -- storage pools --------------------------------------------------------------------

    def ensure_dir_pool(self, name: str, path: str) -> PoolSpace:
        """The directory pool `name` on the connection's host: defined at `path`, its
        directory made, started and set to autostart if it was not; its room. A pool of
        that name that exists already is kept where it is."""
        with self._errors(f"prepare storage pool {name} at {path}"):
            pool = self._find_pool(name)
            if pool is None:
                pool = self._conn.storagePoolDefineXML(dir_pool_xml(name, path), 0)
                pool.build(0)
                pool.setAutostart(1)
            if not pool.isActive():
                pool.create(0)
        found = self.pool_space(name)
        assert found is not None
        return found

    def pool_space(self, name: str) -> PoolSpace | None:
        """Where pool `name` is and its room (refreshed), or None: no such pool, or not
        started."""
        with self._errors(f"read storage pool {name}"):
            pool = self._find_pool(name)
            if pool is None or not pool.isActive():
                return None
            _refresh(pool)
            _state, capacity, _allocation, available = pool.info()
            path = ET.fromstring(pool.XMLDesc(0)).findtext("target/path") or ""
        return PoolSpace(
            name=name, path=path, capacity_bytes=int(capacity), available_bytes=int(available)
        )

    def refresh_pool(self, name: str) -> None:
        """Make libvirt look at pool `name`'s directory again (files added or removed there
        by something else)."""
        with self._errors(f"refresh storage pool {name}"):
            _refresh(self._conn.storagePoolLookupByName(name))

    def forget_pool(self, name: str) -> None:
        """Stop and undefine pool `name`, leaving its directory and files on the host."""
        with self._errors(f"remove storage pool {name}"):
            pool = self._find_pool(name)
            if pool is None:
                return
            if pool.isActive():
                pool.destroy()
            pool.undefine()

    def volume_path(self, pool: str, name: str) -> str | None:
        """Where volume `name` of `pool` is on the pool's host, or None: no such volume."""
        with self._errors(f"look up volume {name} in pool {pool}"):
            vol = self._find_volume(pool, name)
            return None if vol is None else str(vol.path())

    def upload_volume(
        self,
        pool: str,
        name: str,
        source: BinaryIO,
        size: int,
        sent: Callable[[int], None] = lambda _n: None,
        mode: str = "0644",
    ) -> str:
        """A new volume `name` in `pool`, filled with the `size` bytes of `source` through
        libvirt's stream (so to a remote host too); the sha256 of what was sent. `sent`
        hears the bytes sent so far; `mode`: see volume_xml. On failure the volume is
        deleted."""
        digest = hashlib.sha256()
        done = 0

        def read(_stream: Any, nbytes: int, _opaque: object) -> bytes:
            nonlocal done
            data = source.read(nbytes)
            digest.update(data)
            done += len(data)
            sent(done)
            return data

        with self._errors(f"upload volume {name} to pool {pool}"):
            target = self._conn.storagePoolLookupByName(pool)
            vol = target.createXML(volume_xml(name, size, mode), 0)
            try:
                stream = self._conn.newStream(0)
                vol.upload(stream, 0, size, 0)
                stream.sendAll(read, None)
                stream.finish()
            except BaseException:
                vol.delete(0)
                raise
        return digest.hexdigest()

    def volume_sha256(self, pool: str, name: str) -> str:
        """The sha256 of volume `name` as its host has it (read back through a stream)."""
        digest = hashlib.sha256()
        self._download(pool, name, digest.update)
        return digest.hexdigest()

    def download_volume(self, pool: str, name: str, target: BinaryIO) -> str:
        """Write the bytes of volume `name` (as its host has it, through libvirt's stream,
        so from a remote host too) to `target`; their sha256."""
        digest = hashlib.sha256()

        def take(data: bytes) -> None:
            digest.update(data)
            target.write(data)

        self._download(pool, name, take)
        return digest.hexdigest()

    def _download(self, pool: str, name: str, take: Callable[[bytes], object]) -> None:
        def write(_stream: Any, data: bytes, _opaque: object) -> int:
            take(data)
            return len(data)

        with self._errors(f"read volume {name} of pool {pool}"):
            vol = self._conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
            stream = self._conn.newStream(0)
            vol.download(stream, 0, 0, 0)
            stream.recvAll(write, None)
            stream.finish()

    def create_overlay(self, pool: str, name: str, capacity: int, backing: str) -> str:
        """A new qcow2 volume `name` in `pool` over the image at `backing` (made by the
        pool's host); its path there."""
        with self._errors(
            f"create overlay {name} in pool {pool}", hint="is the image on that host? lab host list"
        ):
            vol = self._conn.storagePoolLookupByName(pool).createXML(
                overlay_xml(name, capacity, backing), 0
            )
            return str(vol.path())

    def copy_volume(self, pool: str, name: str, source: str, *, raw: bool = False) -> str:
        """A new qcow2 volume `name` in `pool` holding what volume `source` shows, its
        backing files folded in (the pool's host copies it: nothing crosses the network);
        0600, as the lab's own. Its path. `raw`: a byte for byte copy of a file that is
        no disk image (a memory state)."""
        with self._errors(f"copy volume {source} to {name} in pool {pool}"):
            target = self._conn.storagePoolLookupByName(pool)
            origin = target.storageVolLookupByName(source)
            capacity = int(origin.info()[1])
            xml = volume_xml(name, capacity, "0600") if raw else frozen_xml(name, capacity)
            vol = target.createXMLFrom(xml, origin, 0)
            return str(vol.path())

    def write_volume_head(self, pool: str, name: str, data: bytes) -> None:
        """Write `data` over the first bytes of volume `name`, the rest of it as it was
        (through libvirt's stream, so on a remote host too)."""
        with self._errors(f"write the head of volume {name} in pool {pool}"):
            vol = self._conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
            stream = self._conn.newStream(0)
            vol.upload(stream, 0, len(data), 0)
            left = [data]

            def read(_stream: Any, nbytes: int, _opaque: object) -> bytes:
                chunk, left[0] = left[0][:nbytes], left[0][nbytes:]
                return chunk

            stream.sendAll(read, None)
            stream.finish()

    def volume_backing(self, pool: str, name: str) -> str | None:
        """The path of the file volume `name` sits on (None: none, or no such volume)."""
        with self._errors(f"read volume {name} of pool {pool}"):
            vol = self._find_volume(pool, name)
            if vol is None:
                return None
            return backing_path(vol.XMLDesc(0))

    def volume_allocation(self, pool: str, name: str) -> int:
        """Bytes volume `name` takes on its host's disk (0: no such volume)."""
        with self._errors(f"read volume {name} of pool {pool}"):
            vol = self._find_volume(pool, name)
            return 0 if vol is None else int(vol.info()[2])

    def volume_capacity(self, pool: str, name: str) -> int:
        """The size volume `name` shows its machine (0: no such volume)."""
        with self._errors(f"read volume {name} of pool {pool}"):
            vol = self._find_volume(pool, name)
            return 0 if vol is None else int(vol.info()[1])

    def list_volumes(self, pool: str) -> list[str]:
        """The names of the volumes in `pool`, as its host's disk has them now; none when
        the host has no such pool, or it is stopped."""
        with self._errors(f"list the volumes of pool {pool}"):
            target = self._find_pool(pool)
            if target is None or not target.isActive():
                return []
            _refresh(target)
            return sorted(str(n) for n in target.listVolumes())

    def volume_tail(self, pool: str, name: str, limit: int) -> bytes | None:
        """At most the last `limit` bytes of volume `name` (None: no such volume)."""
        chunks: list[bytes] = []

        def write(_stream: Any, data: bytes, _opaque: object) -> int:
            chunks.append(data)
            return len(data)

        with self._errors(f"read volume {name} of pool {pool}"):
            vol = self._find_volume(pool, name)
            if vol is None:
                return None
            size = int(vol.info()[1])
            offset = max(0, size - limit)
            if size == offset:
                return b""
            stream = self._conn.newStream(0)
            vol.download(stream, offset, size - offset, 0)
            stream.recvAll(write, None)
            stream.finish()
        return b"".join(chunks)

    def delete_volume(self, pool: str, name: str) -> None:
        """Delete volume `name` of `pool` (nothing when there is none)."""
        with self._errors(f"delete volume {name} of pool {pool}"):
            vol = self._find_volume(pool, name)
            if vol is not None:
                vol.delete(0)

    def _find_volume(self, pool: str, name: str) -> Any:
        try:
            return self._conn.storagePoolLookupByName(pool).storageVolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return None
            raise

    def _find_pool(self, name: str) -> Any:
        try:
            return self._conn.storagePoolLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
                return None
            raise

    # -- domains ------------------------------------------------------------------------

    def _domain(self, name: str) -> Any:
        with self._errors(f"find domain {name}"):
            return self._conn.lookupByName(name)

    def define_domain(self, xml: str) -> str:
        """Define (or redefine) a persistent domain; libvirt validates it against its schema."""
        with self._errors("define domain", hint="the domain XML was refused; see the message"):
            return str(self._conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE).name())

    def start_domain(self, name: str) -> None:
        """Start the defined domain, its NICs' filters in force before the guest runs."""
        dom = self._domain(name)
        with self._errors(f"read domain {name}"):
            xml = str(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        with self._filtered(name, xml) as paused, self._errors(f"start domain {name}"):
            dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED if paused else 0)

    def shutdown_domain(self, name: str) -> None:
        """Ask the guest to power off (ACPI or agent); returns at once, the guest may linger."""
        dom = self._domain(name)
        with self._errors(f"shut down domain {name}"):
            dom.shutdown()

    def destroy_domain(self, name: str) -> None:
        """Pull the plug."""
        dom = self._domain(name)
        with self._errors(f"destroy domain {name}"):
            dom.destroy()

    def undefine_domain(self, name: str) -> None:
        """Forget the (stopped or running) domain, with its managed save, snapshot metadata,
        UEFI variables file and its NICs' filter bindings."""
        dom = self._domain(name)
        with self._errors(f"read domain {name}"):
            xml = str(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        self._undefine(dom, xml)
        for binding in bindings_of(xml):
            self._unbind(binding.portdev)

    def _undefine(self, dom: Any, xml: str) -> None:
        with self._errors(f"undefine domain {dom.name()}"):
            if not has_nvram(xml):
                dom.undefineFlags(_UNDEFINE_FLAGS)
                return
            try:
                dom.undefineFlags(_UNDEFINE_UEFI_FLAGS)
            except libvirt.libvirtError as exc:
                # "Unsupported flags" comes only from a driver that keeps no variables
                # files (the test driver): there is nothing to remove. Any other refusal
                # comes back from the second call as well.
                if exc.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
                    raise
                dom.undefineFlags(_UNDEFINE_FLAGS)

    def domain_exists(self, name: str) -> bool:
        try:
            self._domain(name)
        except NotFoundError:
            return False
        return True

    def domain_state(self, name: str) -> DomainState:
        dom = self._domain(name)
        with self._errors(f"read the state of domain {name}"):
            state, _reason = dom.state()
        return _STATES.get(state, DomainState.NOSTATE)

    def resident_bytes(self) -> dict[str, int]:
        """Bytes each running domain's QEMU process holds resident, by domain name, read
        in one call that waits for no domain: one busy with a job (being restored or
        saved) may be left out, rather than the caller waiting seconds for it."""
        flags = (
            libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
            | libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
        )
        try:
            records = self._conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BALLOON, flags)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (
                libvirt.VIR_ERR_NO_SUPPORT,
                libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED,
            ):
                return {}  # a driver that keeps no such figure (libvirt's test driver)
            raise self._translate(exc, "read the memory of running domains", "") from exc
        return {
            dom.name(): int(stats["balloon.rss"]) * 1024  # libvirt reports KiB
            for dom, stats in records
            if "balloon.rss" in stats
        }

    def wait_state(self, name: str, wanted: Collection[DomainState], seconds: float) -> bool:
        """Poll until domain `name` is in one of the `wanted` states; False at the deadline."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.domain_state(name) in wanted:
                return True
            time.sleep(0.5)
        return False

    def list_domains(self, prefix: str = "") -> list[str]:
        with self._errors("list domains"):
            names = [str(d.name()) for d in self._conn.listAllDomains(0)]
        return sorted(n for n in names if n.startswith(prefix))

    def domain_xml(self, name: str, inactive: bool = False) -> str:
        dom = self._domain(name)
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        with self._errors(f"read the XML of domain {name}"):
            return str(dom.XMLDesc(flags))

    def domain_metadata(self, name: str) -> dict[str, str]:
        """The lab metadata libvirt keeps for the domain; {} when it has none."""
        dom = self._domain(name)
        try:
            text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                return {}
            raise self._translate(exc, f"read the metadata of domain {name}", "") from exc
        return metadata_values(ET.fromstring(str(text)))

    def qemu_agent_ping(self, name: str, timeout: int = 5) -> bool:
        """True when the guest agent answers `guest-ping` within `timeout` seconds."""
        dom = self._domain(name)
        command = json.dumps({"execute": "guest-ping"})
        try:
            libvirt_qemu.qemuAgentCommand(dom, command, max(1, timeout), 0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in _AGENT_SILENT:
                return False
            raise self._translate(exc, f"ping the guest agent of {name}", "") from exc
        return True

    def open_console(self, name: str, *, force: bool = True) -> Console:
        """The domain's serial console (its first `<console>`). With `force`, a session
        another client holds (a browser tab left open, `virsh console`) is taken over:
        one console has one reader and one typist at a time."""
        dom = self._domain(name)
        flags = libvirt.VIR_DOMAIN_CONSOLE_FORCE if force else 0
        with self._errors(f"open the console of {name}", hint="is the machine running?"):
            stream = self._conn.newStream(0)
            dom.openConsole(None, stream, flags)
        return Console(stream, name)

    def vnc_endpoint(self, name: str) -> tuple[str, int] | None:
        """Where the running domain's VNC display listens (host, port); None without one."""
        return vnc_endpoint(self.domain_xml(name))

    def save_domain(self, name: str, path: Path, xml: str | None = None) -> None:
        """Save memory state to `path`; the domain stops. `xml` replaces its saved config."""
        dom = self._domain(name)
        with self._errors(f"save domain {name} to {path}"):
            dom.saveFlags(str(path), xml, 0)

    def flush_guest_disks(self, name: str) -> bool:
        """Make the guest write everything it holds in memory to its disks (agent fsfreeze
        then thaw). False when the agent cannot do it; the disk is then only as consistent
        as after a power cut."""
        dom = self._domain(name)
        try:
            dom.fsFreeze(None, 0)
        except libvirt.libvirtError:
            return False
        with self._errors(f"thaw the file systems of {name}", hint="is the guest agent running?"):
            dom.fsThaw(None, 0)
        return True

    def set_guest_time(self, name: str) -> None:
        """Set the guest's clock to the host's now, through the guest agent.

        A restored memory state wakes with the clock of its capture; without this the
        guest lives minutes or days in the past (certificates, logs, cron all notice).
        """
        dom = self._domain(name)
        now = time.time()
        with self._errors(f"set the clock of {name}", hint="is the guest agent running?"):
            dom.setTime({"seconds": int(now), "nseconds": int((now % 1) * 1e9)}, 0)

    def restore_domain(self, path: Path, domain: str, xml: str | None = None) -> None:
        """Restore the defined domain `domain` from the memory state it saved in `path`,
        running, its NICs' filters in force before the guest runs.

        `xml` may change host-side details such as disk paths (e.g. a fresh overlay), but
        not the guest's ABI.
        """
        if xml is None:
            with self._errors(f"read domain {domain}"):
                defined = str(self._domain(domain).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        with (
            self._filtered(domain, defined if xml is None else xml) as paused,
            self._errors(f"restore a domain from {path}"),
        ):
            self._conn.restoreFlags(str(path), xml, libvirt.VIR_DOMAIN_SAVE_PAUSED if paused else 0)

    def restore_domain_as(self, path: Path, xml: str, scratch: Path) -> None:
        """Restore the memory state in `path` into the domain `xml` describes, whatever
        domain it was saved from (lab.driver.saved_state): its header and XML are made
        for `xml`, and QEMU's stream is sent after them from `path` through a pipe made
        in the directory `scratch`, so nothing of the state is copied on disk."""
        with path.open("rb") as source:
            saved = saved_state.read(source)
        header = saved_state.restore_header(saved, xml)
        fifo = scratch / f".restore-{os.getpid()}-{threading.get_ident()}.fifo"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo, 0o600)
        domain = str(ET.fromstring(xml).findtext("name", ""))
        with self._filtered(domain, xml) as paused:
            feeder = _Feeder(fifo, header, path, saved.stream_offset)
            feeder.start()
            try:
                with self._errors(f"restore a domain from {path}"):
                    self._conn.restoreFlags(
                        str(fifo), None, libvirt.VIR_DOMAIN_SAVE_PAUSED if paused else 0
                    )
            finally:
                feeder.stop()
                fifo.unlink(missing_ok=True)
            if feeder.error is not None:
                raise DriverError(
                    f"the memory state {path} could not be read: {feeder.error}",
                    hint="the template's files may be damaged: `lab template list`",
                )

    # -- NIC filter bindings (lab.driver.filter_bindings) -------------------------------

    @contextmanager
    def _filtered(self, domain: str, domain_xml: str) -> Iterator[bool]:
        """Around a start or restore of `domain`: yields whether to start it paused (libvirt
        lacks some of its filter bindings), and after it makes those and lets it run."""
        unbound = self._unbound_filters(domain_xml)
        yield bool(unbound)
        self._bind_filters(domain, unbound)

    def _unbound_filters(self, domain_xml: str) -> tuple[FilterBinding, ...]:
        """The filter bindings the domain needs and libvirt does not hold as they should
        be (a binding of another owner on the tap is dropped here)."""
        unbound: list[FilterBinding] = []
        for binding in bindings_of(domain_xml):
            held = self.filter_binding(binding.portdev)
            if held is not None and matches(held, binding):
                continue
            if held is not None:
                self._unbind(binding.portdev)
            unbound.append(binding)
        return tuple(unbound)

    def _bind_filters(self, domain: str, unbound: tuple[FilterBinding, ...]) -> None:
        """Make the bindings of the domain, started paused because it lacked them (its
        taps exist: libvirt builds a binding's rules only for a tap that does), then let
        it run. A binding refused stops the domain: it never runs unfiltered."""
        if not unbound:
            return
        dom = self._domain(domain)
        try:
            with self._errors(f"bind the NIC filters of {domain}", hint=_NWFILTER_HINT):
                for binding in unbound:
                    self._conn.nwfilterBindingCreateXML(binding_xml(binding), 0)
            with self._errors(f"resume domain {domain}"):
                dom.resume()
        except LabError:
            with contextlib.suppress(libvirt.libvirtError):
                dom.destroy()
            raise

    def filter_binding(self, portdev: str) -> str | None:
        """The XML of the filter binding libvirt holds on the tap `portdev`; None: none."""
        held = self._binding(portdev)
        if held is None:
            return None
        with self._errors(f"read the filter binding of {portdev}"):
            return str(held.XMLDesc(0))

    def _binding(self, portdev: str) -> Any | None:
        try:
            return self._conn.nwfilterBindingLookupByPortDev(portdev)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_NWFILTER_BINDING:
                return None
            raise self._translate(exc, f"look up the filter binding of {portdev}", "") from exc

    def filter_bindings(self) -> list[tuple[str, str]]:
        """(tap, owner domain name) of every filter binding libvirt holds, by tap; [] for
        a libvirt without the nwfilter driver."""
        try:
            held = self._conn.listAllNWFilterBindings(0)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                return []
            raise self._translate(exc, "list the filter bindings", _NWFILTER_HINT) from exc
        found: list[tuple[str, str]] = []
        for binding in held:
            with self._errors("read a filter binding"):
                found.append(tap_and_owner(str(binding.XMLDesc(0))))
        return sorted(found)

    def remove_filter_binding(self, portdev: str) -> None:
        """Remove the filter binding on the tap `portdev` (and its rules); none: nothing."""
        self._unbind(portdev)

    def refilter_domain(self, name: str) -> int:
        """Make the NIC filter bindings of domain `name` anew, whose rules were taken away
        behind libvirt's back: each is removed (with what is left of its rules), and made
        again at once when the domain runs, its taps existing, so that libvirt builds the
        rules now. A domain that does not run gets them at its next start or restore,
        which it begins paused for that. How many bindings were made."""
        bindings = bindings_of(self.domain_xml(name))
        for binding in bindings:
            self._unbind(binding.portdev)
        if not bindings or self.domain_state(name) not in HAS_TAPS:
            return 0
        with self._errors(f"bind the NIC filters of {name}", hint=_NWFILTER_HINT):
            for binding in bindings:
                self._conn.nwfilterBindingCreateXML(binding_xml(binding), 0)
        return len(bindings)

    def _unbind(self, portdev: str) -> None:
        held = self._binding(portdev)
        if held is None:
            return
        with self._errors(f"remove the filter binding of {portdev}"):
            try:
                held.delete()
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_NWFILTER_BINDING:
                    raise

    def guest_exec(
        self, name: str, argv: list[str], stdin: bytes = b"", timeout: float = 30.0
    ) -> tuple[int, bytes, bytes]:
        """Run `argv` in the guest through its agent (no network needed): (exit code,
        stdout, stderr). `stdin` reaches the program on its standard input, never on a
        command line. DriverError when the agent does not run it or it outlives `timeout`."""
        dom = self._domain(name)
        arguments: dict[str, Any] = {"path": argv[0], "arg": argv[1:], "capture-output": True}
        if stdin:
            arguments["input-data"] = base64.b64encode(stdin).decode()
        hint = "is the guest agent running in the machine?"
        with self._errors(f"run {argv[0]} in {name} through its guest agent", hint):
            started = json.loads(
                libvirt_qemu.qemuAgentCommand(
                    dom, json.dumps({"execute": "guest-exec", "arguments": arguments}), 10, 0
                )
            )
            pid = started["return"]["pid"]
            deadline = time.monotonic() + timeout
            while True:
                status = json.loads(
                    libvirt_qemu.qemuAgentCommand(
                        dom,
                        json.dumps({"execute": "guest-exec-status", "arguments": {"pid": pid}}),
                        10,
                        0,
                    )
                )["return"]
                if status.get("exited"):
                    break
                if time.monotonic() > deadline:
                    raise DriverError(
                        f"{argv[0]} in {name} did not finish within {timeout:.0f} s", hint=hint
                    )
                time.sleep(0.05)
        return (
            int(status.get("exitcode", -1)),
            base64.b64decode(status.get("out-data", "")),
            base64.b64decode(status.get("err-data", "")),
        )

    # -- networks -----------------------------------------------------------------------

    def _network(self, name: str) -> Any:
        with self._errors(f"find network {name}"):
            return self._conn.networkLookupByName(name)

    def define_network(self, xml: str) -> str:
        with self._errors("define network", hint="the network XML was refused; see the message"):
            return str(self._conn.networkDefineXML(xml).name())

    def start_network(self, name: str) -> None:
        net = self._network(name)
        with self._errors(f"start network {name}"):
            net.create()

    def destroy_network(self, name: str) -> None:
        net = self._network(name)
        with self._errors(f"stop network {name}"):
            net.destroy()

    def undefine_network(self, name: str) -> None:
        net = self._network(name)
        with self._errors(f"undefine network {name}"):
            net.undefine()

    def network_exists(self, name: str) -> bool:
        try:
            self._network(name)
        except NotFoundError:
            return False
        return True

    def nwfilter_exists(self, name: str) -> bool:
        """Whether libvirt knows the network filter `name` (no: also when this libvirt has
        no nwfilter driver at all)."""
        try:
            self._conn.nwfilterLookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() in (libvirt.VIR_ERR_NO_NWFILTER, libvirt.VIR_ERR_NO_SUPPORT):
                return False
            raise self._translate(exc, f"look up network filter {name}", "") from exc
        return True

    def define_nwfilter(self, xml: str) -> None:
        """Define (or redefine) a network filter from its XML."""
        with self._errors("define a network filter", hint=_NWFILTER_HINT):
            self._conn.nwfilterDefineXML(xml)

    def network_active(self, name: str) -> bool:
        net = self._network(name)
        with self._errors(f"read the state of network {name}"):
            return bool(net.isActive())

    def list_networks(self, prefix: str = "") -> list[str]:
        with self._errors("list networks"):
            names = [str(n.name()) for n in self._conn.listAllNetworks(0)]
        return sorted(n for n in names if n.startswith(prefix))

    def network_subnets(self) -> set[IPv4Network]:
        """Every IPv4 subnet any libvirt network on this host uses (ours or not)."""
        with self._errors("list networks"):
            networks = self._conn.listAllNetworks(0)
        xmls = []
        for net in networks:
            # Another lab (another process) may take its networks down between the listing
            # and this read: a network that is gone uses no subnet.
            try:
                xmls.append(str(net.XMLDesc(0)))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
                    raise self._translate(exc, "list networks", "") from exc
        return {subnet for xml in xmls for subnet in ipv4_subnets(xml)}

    def dhcp_leases(self, network: str) -> list[DhcpLease]:
        net = self._network(network)
        with self._errors(f"read the DHCP leases of network {network}"):
            leases = net.DHCPLeases()
        return [
            DhcpLease(
                mac=str(lease["mac"]),
                ip=str(lease["ipaddr"]),
                hostname=str(lease.get("hostname") or ""),
                expiry=int(lease["expirytime"]),
            )
            for lease in leases
        ]


class _Feeder(threading.Thread):
    """Writes a save image's new header, then its stream from `source` at `offset`, into
    the pipe libvirt restores from. Gives up when nobody opens the pipe in 30 s (libvirt
    failed before reading) or `stop` is called."""

    def __init__(self, fifo: Path, header: bytes, source: Path, offset: int) -> None:
        super().__init__(daemon=True, name=f"restore-feeder:{fifo.name}")
        self.fifo, self.header, self.source, self.offset = fifo, header, source, offset
        self.error: str | None = None
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=30)

    def run(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: no reader yet
                if self._stopped.is_set() or time.monotonic() > deadline:
                    return
                time.sleep(0.005)
        try:
            os.set_blocking(fd, True)
            view = memoryview(self.header)
            while view:
                view = view[os.write(fd, view) :]
            with self.source.open("rb") as source:
                size = os.fstat(source.fileno()).st_size
                at = self.offset
                while at < size:
                    sent = os.sendfile(fd, source.fileno(), at, min(1 << 22, size - at))
                    if sent == 0:
                        break
                    at += sent
        except BrokenPipeError:
            pass  # libvirt stopped reading: its own error says why
        except OSError as exc:
            self.error = exc.strerror or str(exc)
        finally:
            os.close(fd)
