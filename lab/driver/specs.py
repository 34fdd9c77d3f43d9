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

from lab.errors import InvalidError

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


class DiskBus(StrEnum):
    """The bus a disk sits on. virtio is fastest but needs the guest's virtio drivers; an
    imported machine keeps the bus it was installed on, or its OS cannot find its disk."""

    VIRTIO = "virtio"
    SATA = "sata"  # AHCI: Windows and most exported VirtualBox machines
    SCSI = "scsi"  # on an LSI Logic controller, as VMware exports expect
    IDE = "ide"  # i440fx's PIIX IDE: old guests; q35 has none


# Each bus names its disks with its own prefix: libvirt derives a disk's place on the bus
# (controller, unit) from the target name.
_TARGET_PREFIX = {
    DiskBus.VIRTIO: "vd",
    DiskBus.SATA: "sd",
    DiskBus.SCSI: "sd",
    DiskBus.IDE: "hd",
}
# i440fx has one IDE controller: two buses of two units, hda to hdd.
_IDE_TARGETS = ("hda", "hdb", "hdc", "hdd")


def disk_target(bus: DiskBus, index: int) -> str:
    """The target name of the `index`-th disk (from 0) on `bus`: vda, sdb, hdc..."""
    if not 0 <= index < 26:
        raise InvalidError(
            f"no disk name for disk {index + 1} on bus {bus.value}",
            hint="a machine has at most 26 disks on one bus (a to z); put others on another bus",
        )
    return _TARGET_PREFIX[bus] + chr(ord("a") + index)


class DiskSpec(_Frozen):
    """A file-backed disk, virtio unless said otherwise. The cloud-init seed is one too,
    virtio and read-only (the cloud kernel did not see it as a SATA CD-ROM)."""

    path: XmlPath
    format: DiskFormat = DiskFormat.QCOW2
    target: Annotated[str, Field(pattern=r"^(vd|sd|hd)[a-z]$")]
    bus: DiskBus = DiskBus.VIRTIO
    readonly: bool = False

    @model_validator(mode="after")
    def _target_fits_bus(self) -> Self:
        prefix = _TARGET_PREFIX[self.bus]
        if not self.target.startswith(prefix):
            raise ValueError(
                f"disk target {self.target} does not fit bus {self.bus.value}:"
                f" {self.bus.value} disks are named {prefix}a, {prefix}b, ..."
            )
        if self.bus is DiskBus.IDE and self.target not in _IDE_TARGETS:
            raise ValueError(
                f"disk target {self.target}: the IDE controller has four places, hda to hdd"
            )
        return self


class FilterRef(_Frozen):
    """An nwfilter for a NIC, e.g. `clean-traffic` with `IP=10.10.0.11`: a binding on the
    NIC's fixed tap, made once (lab.driver.filter_bindings), not a `<filterref>`."""

    name: Name
    parameters: Mapping[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")], XmlText] = {}


class NicModel(StrEnum):
    """The emulated network card. virtio needs the guest's virtio drivers; the others are
    what an imported machine was installed with (e1000e: current Windows, VMware)."""

    VIRTIO = "virtio"
    E1000E = "e1000e"
    E1000 = "e1000"
    RTL8139 = "rtl8139"


class NicSpec(_Frozen):
    """A NIC on a libvirt network, virtio unless said otherwise."""

    network: Name
    mac: Mac
    model: NicModel = NicModel.VIRTIO
    filterref: FilterRef | None = None


class KernelBoot(_Frozen):
    """Direct kernel boot: QEMU loads kernel and initrd itself, no bootloader in the disk."""

    kernel: XmlPath
    initrd: XmlPath | None = None
    cmdline: XmlText = ""


class Firmware(StrEnum):
    """What a machine boots with: SeaBIOS, or OVMF's UEFI (`DomainSpec.uefi` set)."""

    BIOS = "bios"
    UEFI = "uefi"


class UefiFirmware(_Frozen):
    """OVMF, named by explicit paths rather than libvirt's firmware autoselection, so the
    XML says exactly which code runs. No secure boot.

    `nvram` is this machine's own copy of the UEFI variables (its boot entries); libvirt
    creates it from `template` when the machine first starts.
    """

    loader: XmlPath  # the firmware code, e.g. /usr/share/OVMF/OVMF_CODE_4M.fd
    template: XmlPath  # the variables template, e.g. /usr/share/OVMF/OVMF_VARS_4M.fd
    nvram: XmlPath


class MachineType(StrEnum):
    """The emulated chipset. i440fx (`pc`): the simplest one that carries virtio, enough
    for the lab's own guests. q35: PCIe and AHCI, what current Windows expects; no IDE."""

    PC = "pc"
    Q35 = "q35"


class VideoModel(StrEnum):
    """The display adapter behind the VNC console."""

    VGA = "vga"
    QXL = "qxl"
    VIRTIO = "virtio"
    CIRRUS = "cirrus"


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
    machine: MachineType = MachineType.PC
    # None: SeaBIOS. Either firmware boots the first disk's own bootloader unless `boot`
    # asks for a kernel, which only SeaBIOS is used with here.
    uefi: UefiFirmware | None = None
    boot: KernelBoot | None = None  # None: boot from the first disk's own bootloader
    serial_log: XmlPath | None = None
    guest_agent: bool = True
    rng: bool = True  # virtio-rng; a guest without virtio drivers does without
    graphics: bool = False
    video: VideoModel = VideoModel.VGA  # the adapter, when `graphics` is on
    tablet: bool = False  # a USB tablet: an absolute pointer, so a VNC mouse tracks
    # Under TCG, QEMU's translated-code cache (None: QEMU's own size, 1 GiB).
    tb_cache_mib: Annotated[int, Field(ge=1)] | None = None
    metadata: Mapping[MetaKey, XmlText] = {}

    @property
    def firmware(self) -> Firmware:
        return Firmware.BIOS if self.uefi is None else Firmware.UEFI

    @model_validator(mode="after")
    def _unique_targets(self) -> Self:
        targets = [d.target for d in self.disks]
        if len(set(targets)) != len(targets):
            raise ValueError(f"disk targets must be unique, got {targets}")
        macs = [n.mac for n in self.nics]
        if len(set(macs)) != len(macs):
            raise ValueError(f"NIC MAC addresses must be unique, got {macs}")
        return self

    @model_validator(mode="after")
    def _hardware_fits(self) -> Self:
        if self.uefi is not None and self.boot is not None:
            raise ValueError(
                "UEFI firmware and direct kernel boot do not go together: a UEFI machine"
                " boots its own bootloader from its disk"
            )
        ide = [d.target for d in self.disks if d.bus is DiskBus.IDE]
        if ide and self.machine is not MachineType.PC:
            raise ValueError(
                f"IDE disks ({', '.join(ide)}) need machine type pc (i440fx):"
                f" {self.machine.value} has no IDE controller; use bus sata instead"
            )
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
