"""The OVA a vendor ships: a VMware-style OVF 1.0 descriptor, the streamOptimized VMDK,
and a SHA256 manifest, in one tar, in that order (the descriptor must come first)."""

from __future__ import annotations

import hashlib
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
VMW = "http://www.vmware.com/schema/ovf"
_NAMESPACES = {"ovf": OVF, "rasd": RASD, "vssd": VSSD, "vmw": VMW}
STREAM_OPTIMIZED = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
# CIM resource types used below.
_CPU, _MEMORY, _ETHERNET, _SATA, _DISK = 3, 4, 10, 20, 17

for _prefix, _uri in _NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class Machine:
    """What the descriptor says about the one virtual machine it carries."""

    name: str
    vmdk_name: str
    vmdk_size: int  # bytes of the .vmdk file
    capacity: int  # bytes of the virtual disk
    network: str
    mac: str
    cpus: int = 1
    memory_mib: int = 512


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: ET.Element, ns: str, tag: str, text: str = "", **attrs: str) -> ET.Element:
    """A child element; `attrs` are ovf: attributes, or `vmw_key`-style names for vmw:."""
    qualified = {}
    for key, value in attrs.items():
        prefix, _, local = key.partition("_")
        qualified[_q(_NAMESPACES[prefix], local)] = value
    element = ET.SubElement(parent, _q(ns, tag), qualified)
    if text:
        element.text = text
    return element


def _item(hardware: ET.Element, **rasd: str) -> None:
    # The OVF schema's rasd elements are a sequence in alphabetical order.
    item = _sub(hardware, OVF, "Item")
    for key in sorted(rasd):
        _sub(item, RASD, key, rasd[key])


def descriptor(m: Machine) -> bytes:
    """The .ovf file: one VM with m.cpus vCPUs, m.memory_mib MiB, a SATA (AHCI) controller
    carrying the disk, one E1000e NIC on `m.network` with a fixed MAC, EFI firmware."""
    envelope = ET.Element(_q(OVF, "Envelope"), {_q(VMW, "buildId"): "build-docflow"})
    references = _sub(envelope, OVF, "References")
    _sub(references, OVF, "File", ovf_href=m.vmdk_name, ovf_id="file1", ovf_size=str(m.vmdk_size))

    disks = _sub(envelope, OVF, "DiskSection")
    _sub(disks, OVF, "Info", "Virtual disk information")
    _sub(
        disks,
        OVF,
        "Disk",
        ovf_capacity=str(m.capacity),
        ovf_capacityAllocationUnits="byte",
        ovf_diskId="vmdisk1",
        ovf_fileRef="file1",
        ovf_format=STREAM_OPTIMIZED,
    )

    networks = _sub(envelope, OVF, "NetworkSection")
    _sub(networks, OVF, "Info", "The list of logical networks")
    network = _sub(networks, OVF, "Network", ovf_name=m.network)
    _sub(network, OVF, "Description", f"The {m.network} network")

    system = _sub(envelope, OVF, "VirtualSystem", ovf_id=m.name)
    _sub(system, OVF, "Info", "A virtual machine")
    _sub(system, OVF, "Name", m.name)
    os_section = _sub(system, OVF, "OperatingSystemSection", ovf_id="96")
    os_section.set(_q(VMW, "osType"), "debian12_64Guest")
    _sub(os_section, OVF, "Info", "The kind of installed guest operating system")

    hardware = _sub(system, OVF, "VirtualHardwareSection")
    _sub(hardware, OVF, "Info", "Virtual hardware requirements")
    vssd = _sub(hardware, OVF, "System")
    for key, value in (
        ("ElementName", "Virtual Hardware Family"),
        ("InstanceID", "0"),
        ("VirtualSystemIdentifier", m.name),
        ("VirtualSystemType", "vmx-14"),
    ):
        _sub(vssd, VSSD, key, value)
    _item(
        hardware,
        AllocationUnits="hertz * 10^6",
        Description="Number of Virtual CPUs",
        ElementName=f"{m.cpus} virtual CPU(s)",
        InstanceID="1",
        ResourceType=str(_CPU),
        VirtualQuantity=str(m.cpus),
    )
    _item(
        hardware,
        AllocationUnits="byte * 2^20",
        Description="Memory Size",
        ElementName=f"{m.memory_mib}MB of memory",
        InstanceID="2",
        ResourceType=str(_MEMORY),
        VirtualQuantity=str(m.memory_mib),
    )
    _item(
        hardware,
        Address="0",
        Description="SATA Controller",
        ElementName="SATA Controller 0",
        InstanceID="3",
        ResourceSubType="AHCI",
        ResourceType=str(_SATA),
    )
    _item(
        hardware,
        AddressOnParent="0",
        ElementName="Hard Disk 1",
        HostResource="ovf:/disk/vmdisk1",
        InstanceID="4",
        Parent="3",
        ResourceType=str(_DISK),
    )
    _item(
        hardware,
        Address=m.mac,
        AutomaticAllocation="true",
        Connection=m.network,
        Description=f'E1000e ethernet adapter on "{m.network}"',
        ElementName="Network adapter 1",
        InstanceID="5",
        ResourceSubType="E1000e",
        ResourceType=str(_ETHERNET),
    )
    _sub(hardware, VMW, "Config", ovf_required="false", vmw_key="firmware", vmw_value="efi")
    ET.indent(envelope)
    text: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_ova(ovf: Path, vmdk: Path, ova: Path) -> None:
    """The tar: descriptor, disk, then the manifest of both (made beside `ova`)."""
    manifest = ova.with_suffix(".mf")
    manifest.write_text(
        "".join(f"SHA256({p.name})= {sha256(p)}\n" for p in (ovf, vmdk)), encoding="utf-8"
    )
    with tarfile.open(ova, "w", format=tarfile.USTAR_FORMAT) as tar:
        for path in (ovf, vmdk, manifest):
            tar.add(path, arcname=path.name, filter=_owned_by_root)


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o644
    return info
