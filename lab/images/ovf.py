"""OVF descriptors (what an OVA carries beside its disks), read into hardware hints.

Pure: text in, models out. Elements and attributes are matched by local name, so
OVF 1.0 and 2.0, VMware's and VirtualBox's dialects read alike. The XML parser is
defusedxml's: a descriptor comes from outside and may carry entity bombs.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from lab.base import Frozen
from lab.errors import InvalidError
from lab.profile.appliance import DiskBus, Firmware, NicModel

_HINT = "export the machine again as OVF 1.0 or 2.0 (VMware, VirtualBox), or import its disk"


class FileRef(Frozen):
    """A file of the package (References/File)."""

    id: str
    href: str
    size: int | None = None


class DiskHint(Frozen):
    file: str  # the disk's file name inside the package
    capacity: int  # bytes, as the descriptor says
    bus: DiskBus


class NicHint(Frozen):
    model: NicModel
    mac: str | None = None


class HardwareHints(Frozen):
    """What the descriptor says of the machine, mapped onto what our profiles know."""

    name: str
    vcpus: int = 1
    memory: int = 1024**3  # bytes
    disks: tuple[DiskHint, ...] = ()
    nics: tuple[NicHint, ...] = ()
    firmware: Firmware = Firmware.BIOS
    os_type: str | None = None
    # What was mapped by guess (an adapter we do not emulate, an unknown controller).
    notes: tuple[str, ...] = ()


class Descriptor(Frozen):
    """A parsed descriptor: the package's files and the machine's hints."""

    files: tuple[FileRef, ...]
    hints: HardwareHints


# CIM ResourceType values (DSP1041).
_CPU, _MEMORY, _IDE, _SCSI, _ETHERNET, _OTHER_STORAGE, _DISK = 3, 4, 5, 6, 10, 20, 17
_NICS = {
    "e1000": NicModel.E1000,
    "e1000e": NicModel.E1000E,
    "virtio": NicModel.VIRTIO,
}
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_UNITS = re.compile(r"^byte\s*(?:\*\s*(\d+)\s*\^\s*(\d+))?$")
_NAMED_UNITS = {
    "bytes": 1,
    "kilobytes": 1024,
    "kb": 1024,
    "megabytes": 1024**2,
    "mb": 1024**2,
    "gigabytes": 1024**3,
    "gb": 1024**3,
    "terabytes": 1024**4,
}
_MAX_DISKS = 16


def parse(text: str | bytes, source: str = "the descriptor") -> Descriptor:
    """Read an OVF descriptor; InvalidError naming `source` when it is not one we read."""
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise InvalidError(f"{source} is not a readable OVF descriptor: {exc}", _HINT) from exc
    if _local(root.tag) != "Envelope":
        raise InvalidError(f"{source} is not an OVF descriptor (no Envelope)", _HINT)
    files = tuple(_file(e, source) for e in _all(root, "References", "File"))
    systems = [e for e in root.iter() if _local(e.tag) == "VirtualSystem"]
    if len(systems) != 1:
        raise InvalidError(
            f"{source} describes {len(systems)} virtual machines; we import exactly one",
            hint="export each machine on its own",
        )
    return Descriptor(files=files, hints=_hints(root, systems[0], files, source))


def _hints(
    root: Element, system: Element, files: tuple[FileRef, ...], source: str
) -> HardwareHints:
    notes: list[str] = []
    disks_by_id = {
        _attr(d, "diskId") or "": d for d in _all(root, "DiskSection", "Disk") if _attr(d, "diskId")
    }
    hrefs = {f.id: f.href for f in files}
    items = [e for e in system.iter() if _local(e.tag).endswith("Item")]
    controllers: dict[str, DiskBus] = {}
    vcpus, memory = 1, 1024**3
    nics: list[NicHint] = []
    attached: list[tuple[str, str]] = []  # (disk id, controller instance id)
    for item in items:
        kind = _int(_text(item, "ResourceType"), 0)
        subtype = (_text(item, "ResourceSubType") or "").strip()
        if kind == _CPU:
            vcpus = max(1, _int(_text(item, "VirtualQuantity"), 1))
        elif kind == _MEMORY:
            units = _text(item, "AllocationUnits") or "byte * 2^20"
            memory = _int(_text(item, "VirtualQuantity"), 0) * _unit(units, source)
        elif kind in (_IDE, _SCSI, _OTHER_STORAGE):
            controllers[_text(item, "InstanceID") or ""] = _bus(kind, subtype, notes)
        elif kind == _DISK:
            ref = _text(item, "HostResource") or ""
            disk_id = ref.rsplit("/", 1)[-1]
            attached.append((disk_id, _text(item, "Parent") or ""))
        elif kind == _ETHERNET:
            nics.append(_nic(subtype, _text(item, "Address"), notes))
    if not attached:  # no hardware section: the disks in their own order, on SATA
        attached = [(disk_id, "") for disk_id in disks_by_id]
    disks = []
    for disk_id, parent in attached:
        disk = disks_by_id.get(disk_id)
        if disk is None:
            raise InvalidError(f"{source} attaches a disk '{disk_id}' it does not declare", _HINT)
        file_id = _attr(disk, "fileRef")
        if file_id not in hrefs:
            raise InvalidError(f"{source}: disk '{disk_id}' has no file in References", _HINT)
        units = _attr(disk, "capacityAllocationUnits") or "byte"
        capacity = _int(_attr(disk, "capacity"), 0) * _unit(units, source)
        disks.append(
            DiskHint(
                file=hrefs[file_id], capacity=capacity, bus=controllers.get(parent, DiskBus.SATA)
            )
        )
    if not disks:
        raise InvalidError(f"{source} describes a machine without a disk", _HINT)
    if len(disks) > _MAX_DISKS:
        raise InvalidError(f"{source} has {len(disks)} disks; at most {_MAX_DISKS}", _HINT)
    return HardwareHints(
        name=_text(system, "Name") or _attr(system, "id") or "machine",
        vcpus=vcpus,
        memory=memory or 1024**3,
        disks=tuple(disks),
        nics=_vbox_macs(system, nics),
        firmware=_firmware(system),
        os_type=_os_type(system),
        notes=tuple(notes),
    )


def _file(element: Element, source: str) -> FileRef:
    file_id, href = _attr(element, "id"), _attr(element, "href")
    if not file_id or not href:
        raise InvalidError(f"{source} has a File without an id or href", _HINT)
    for unsupported in ("compression", "chunkSize"):
        if _attr(element, unsupported):
            raise InvalidError(
                f"{source}: file {href} is stored with {unsupported}={_attr(element, unsupported)}",
                hint="export without compression or chunking (or unpack it first)",
            )
    size = _attr(element, "size")
    return FileRef(id=file_id, href=href, size=_int(size, 0) if size else None)


def _bus(kind: int, subtype: str, notes: list[str]) -> DiskBus:
    sub = subtype.lower()
    if kind == _IDE:
        return DiskBus.IDE
    if "virtio" in sub:
        return DiskBus.VIRTIO
    if kind == _SCSI:
        return DiskBus.SCSI
    if "ahci" in sub or "sata" in sub:
        return DiskBus.SATA
    notes.append(f"storage controller '{subtype or kind}' mapped to sata")
    return DiskBus.SATA


def _nic(subtype: str, address: str | None, notes: list[str]) -> NicHint:
    model = _NICS.get(subtype.lower())
    if model is None:
        model = NicModel.E1000E
        notes.append(f"network adapter '{subtype or 'unnamed'}' mapped to e1000e")
    mac = (address or "").strip().lower().replace("-", ":")
    if mac and not _MAC.fullmatch(mac):
        notes.append(f"MAC address '{address}' ignored: not six hex pairs")
        mac = ""
    return NicHint(model=model, mac=mac or None)


def _vbox_macs(system: Element, nics: list[NicHint]) -> tuple[NicHint, ...]:
    """VirtualBox keeps MACs in its own machine section, one enabled Adapter per NIC."""
    adapters = [
        e
        for e in system.iter()
        if _local(e.tag) == "Adapter" and (_attr(e, "enabled") or "").lower() == "true"
    ]
    adapters.sort(key=lambda e: _int(_attr(e, "slot"), 0))
    macs = [(_attr(e, "MACAddress") or "").lower() for e in adapters]
    given = []
    for i, nic in enumerate(nics):
        raw = macs[i] if i < len(macs) else ""
        mac = ":".join(raw[j : j + 2] for j in range(0, 12, 2)) if len(raw) == 12 else ""
        if nic.mac is None and _MAC.fullmatch(mac):
            nic = nic.model_copy(update={"mac": mac})
        given.append(nic)
    return tuple(given)


def _firmware(system: Element) -> Firmware:
    for element in system.iter():
        name = _local(element.tag)
        key, value = (_attr(element, "key") or "").lower(), (_attr(element, "value") or "")
        if name == "Config" and key == "firmware" and value.lower() == "efi":
            return Firmware.UEFI
        if name == "Firmware" and "efi" in (_attr(element, "type") or "").lower():
            return Firmware.UEFI
    return Firmware.BIOS


def _os_type(system: Element) -> str | None:
    for element in system.iter():
        if _local(element.tag) == "OperatingSystemSection":
            text = _text(element, "Description") or _attr(element, "osType")
            if text:
                return text
    return None


def _unit(units: str, source: str) -> int:
    text = units.strip().lower()
    if text in _NAMED_UNITS:
        return _NAMED_UNITS[text]
    match = _UNITS.fullmatch(text)
    if match is None:
        raise InvalidError(f"{source} uses allocation units we do not read: {units}", _HINT)
    base, exponent = match.groups()
    return int(base) ** int(exponent) if base else 1


# -- element helpers (local names: namespaces differ between OVF versions and vendors) --


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _attr(element: Element, name: str) -> str | None:
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _text(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def _all(root: Element, section: str, name: str) -> list[Element]:
    return [
        child
        for element in root.iter()
        if _local(element.tag) == section
        for child in element
        if _local(child.tag) == name
    ]


def _int(text: str | None, default: int) -> int:
    try:
        return max(0, int((text or "").strip()))
    except ValueError:
        return default
