"""What the XML builders take: frozen, validated descriptions of a domain and a network.

These are the driver's own wire types. The profile layer maps its models onto them; the
builders in `domain_xml` and `network_xml` turn them into libvirt XML without any I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Annotated, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Namespace of the `<metadata>` child that records which lab/machine/profile a domain is.
METADATA_NS = "https://hromada-lab.invalid/xmlns/lab/1"
METADATA_PREFIX = "hl"

_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$"
_MAC_RE = r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"
_HOSTNAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
# XML 1.0 cannot carry most control characters at all, escaped or not; a carriage return
# in a text node comes back from any XML parser as a line feed, so it is refused as well,
# and so are lone surrogates (no UTF-8 encoding exists for them).
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\r\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str) -> str:
    if _XML_FORBIDDEN.search(value):
        raise ValueError("contains control characters that XML cannot represent")
    return value


def _xml_path(value: Path) -> Path:
    # Paths land in attributes (<source file=...>), where a parser would turn a line break
    # or tab into a space: refuse every control character, not only XML's forbidden ones.
    if any(ord(c) < 32 or ord(c) == 127 for c in str(value)):
        raise ValueError("a path cannot contain control characters")
    _xml_text(str(value))
    return value


def _one_line(value: str) -> str:
    # libvirt rejects a <title> with a newline in it.
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return _xml_text(value)


XmlText = Annotated[str, AfterValidator(_xml_text)]
XmlPath = Annotated[Path, AfterValidator(_xml_path)]
OneLine = Annotated[str, AfterValidator(_one_line)]
Name = Annotated[str, Field(pattern=_NAME_RE)]
Mac = Annotated[str, Field(pattern=_MAC_RE)]
Hostname = Annotated[str, Field(pattern=_HOSTNAME_RE)]
# Metadata keys become element names, so they must be valid XML names (and stay boring).
MetaKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VirtType(StrEnum):
    """libvirt `<domain type=...>`: KVM, or QEMU's software emulator (TCG)."""

    KVM = "kvm"
    QEMU = "qemu"


class CpuMode(StrEnum):
    """The guest CPU.

    KVM: `host-passthrough` gives the guest the host CPU as is: fastest, and a lab's
    guests never migrate between unlike hosts.

    TCG: a named model, because the emulated CPU is then the same on every host and QEMU
    version, so a saved memory baseline restores anywhere. `Nehalem` is the oldest model
    that is x86-64-v2 (SSE4.2, POPCNT, CX16), which EL9-family guests and many current
    binaries require, and QEMU's TCG implements all of its features (no "TCG doesn't
    support requested feature" warnings). Measured on QEMU 7.2: the Debian 12 cloud kernel
    boots under `qemu64`, `Nehalem` and `max` alike; `max` was not chosen because what it
    means changes with every QEMU release, and `qemu64` (x86-64-v1) is kept as a fallback
    for guests that need nothing newer.
    """

    HOST_PASSTHROUGH = "host-passthrough"
    NEHALEM = "Nehalem"
    QEMU64 = "qemu64"


class DiskFormat(StrEnum):
    QCOW2 = "qcow2"
    RAW = "raw"


class DiskSpec(_Frozen):
    """A file-backed virtio disk. The cloud-init seed is one too, read-only (the cloud
    kernel did not see it as a SATA CD-ROM)."""

    path: XmlPath
    format: DiskFormat = DiskFormat.QCOW2
    target: Annotated[str, Field(pattern=r"^vd[a-z]$")]
    readonly: bool = False


class FilterRef(_Frozen):
    """An nwfilter applied to a NIC, e.g. `clean-traffic` with `IP=10.10.0.11`."""

    name: Name
    parameters: Mapping[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")], XmlText] = {}


class NicSpec(_Frozen):
    """A virtio NIC on a libvirt network."""

    network: Name
    mac: Mac
    filterref: FilterRef | None = None


class KernelBoot(_Frozen):
    """Direct kernel boot: QEMU loads kernel and initrd itself, no bootloader in the disk."""

    kernel: XmlPath
    initrd: XmlPath | None = None
    cmdline: XmlText = ""


class DomainSpec(_Frozen):
    """Everything `domain_xml` needs to describe one guest."""

    name: Name
    uuid: UUID | None = None
    title: OneLine = ""
    description: XmlText = ""
    vcpus: Annotated[int, Field(ge=1, le=64)] = 1
    memory_mib: Annotated[int, Field(ge=64)] = 512
    virt_type: VirtType
    cpu: CpuMode
    disks: tuple[DiskSpec, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    boot: KernelBoot | None = None  # None: boot from the first disk's own bootloader
    serial_log: XmlPath | None = None
    guest_agent: bool = True
    graphics: bool = False
    metadata: Mapping[MetaKey, XmlText] = {}

    @model_validator(mode="after")
    def _unique_targets(self) -> Self:
        targets = [d.target for d in self.disks]
        if len(set(targets)) != len(targets):
            raise ValueError(f"disk targets must be unique, got {targets}")
        macs = [n.mac for n in self.nics]
        if len(set(macs)) != len(macs):
            raise ValueError(f"NIC MAC addresses must be unique, got {macs}")
        return self


class DnsMode(StrEnum):
    """DNS on a lab network: off, or dnsmasq answering for the lab's own names only."""

    DISABLED = "disabled"
    LOCAL = "local"


class DhcpRange(_Frozen):
    start: IPv4Address
    end: IPv4Address


class DhcpHost(_Frozen):
    """A static lease: the guest with this MAC always gets this address and name."""

    mac: Mac
    ip: IPv4Address
    hostname: Hostname


class NetworkSpec(_Frozen):
    """A libvirt network for one lab: isolated (no `<forward>`) unless asked otherwise."""

    name: Name
    bridge: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,15}$")]
    # The host's address on it, e.g. 10.250.3.1/24. None: a pure layer-2 segment that the
    # host has no address on (a lab's own networks, so every seat can share addressing).
    host_address: IPv4Interface | None = None
    dhcp_range: DhcpRange | None = None
    dhcp_hosts: tuple[DhcpHost, ...] = ()
    isolated: bool = True
    # STP's listening/learning keeps each new port mute ~4 s: it doubles a reset (measured).
    stp: bool = False
    mtu: Annotated[int, Field(ge=576, le=9000)] | None = None
    dns: DnsMode = DnsMode.LOCAL
    dns_domain: Hostname = "lab"

    @model_validator(mode="after")
    def _addresses_in_subnet(self) -> Self:
        if self.host_address is None:
            if self.dhcp_range is not None or self.dhcp_hosts:
                raise ValueError("DHCP needs a host_address on the network")
            return self
        net = self.host_address.network
        if self.host_address.ip in (net.network_address, net.broadcast_address):
            raise ValueError(f"host_address {self.host_address} is not a host address")
        inside = [h.ip for h in self.dhcp_hosts]
        if self.dhcp_range is not None:
            inside += [self.dhcp_range.start, self.dhcp_range.end]
            if self.dhcp_range.start > self.dhcp_range.end:
                raise ValueError("dhcp_range starts after it ends")
        for ip in inside:
            if ip not in net or ip == self.host_address.ip:
                raise ValueError(f"{ip} is not a free address in {net}")
        return self
