"""Pure builder of libvirt domain XML from a `DomainSpec`, and its metadata reader.

Built with ElementTree, never by formatting strings: every value lands in a text node or
an attribute and is escaped there, so nothing in a spec can change the XML's structure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import PurePath

from lab.driver.filter_bindings import filters_element, tap_name, with_taps
from lab.driver.specs import (
    METADATA_NS,
    METADATA_PREFIX,
    CpuMode,
    DiskBus,
    DiskSpec,
    DomainSpec,
    NicSpec,
    VirtType,
)

_AGENT_CHANNEL = "org.qemu.guest_agent.0"


def domain_xml(spec: DomainSpec) -> str:
    """The libvirt `<domain>` document for `spec`, indented, without an XML declaration."""
    root = ET.Element("domain", type=spec.virt_type.value)
    _text(root, "name", spec.name)
    if spec.uuid is not None:
        _text(root, "uuid", str(spec.uuid))
    if spec.title:
        _text(root, "title", spec.title)
    if spec.description:
        _text(root, "description", spec.description)
    filters = {
        nic.mac: (nic.filterref.name, nic.filterref.parameters)
        for nic in spec.nics
        if nic.filterref is not None
    }
    if spec.metadata or filters:
        metadata = ET.SubElement(root, "metadata")
        if spec.metadata:
            _metadata(metadata, spec.metadata)
        if filters:
            metadata.append(filters_element(filters))
    _text(root, "memory", str(spec.memory_mib), unit="MiB")
    _text(root, "vcpu", str(spec.vcpus), placement="static")
    _os(root, spec)
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")  # ACPI lets `shutdown` reach the guest as a power button
    ET.SubElement(features, "apic")
    if spec.virt_type is VirtType.QEMU and spec.tb_cache_mib is not None:
        tcg = ET.SubElement(features, "tcg")
        _text(tcg, "tb-cache", str(spec.tb_cache_mib), unit="MiB")
    _cpu(root, spec.cpu)
    ET.SubElement(root, "clock", offset="utc")
    _text(root, "on_poweroff", "destroy")
    _text(root, "on_reboot", "restart")
    # A crashed guest stops and says so (state `crashed`) instead of looping through reboots.
    _text(root, "on_crash", "destroy")
    _devices(ET.SubElement(root, "devices"), spec)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def parse_metadata(domain_xml: str) -> dict[str, str]:
    """The lab metadata (`<metadata><hl:lab>`) of a domain XML document; {} when absent."""
    root = ET.fromstring(domain_xml)
    lab = root.find(f"metadata/{{{METADATA_NS}}}lab")
    return {} if lab is None else metadata_values(lab)


def vnc_endpoint(domain_xml: str) -> tuple[str, int] | None:
    """(host, port) of the VNC display of a *running* domain's live XML; None when it has
    none or no port was given yet (a defined, stopped domain with `autoport`)."""
    graphics = ET.fromstring(domain_xml).find("devices/graphics[@type='vnc']")
    if graphics is None:
        return None
    port = int(graphics.get("port", "-1"))
    if port <= 0:
        return None
    listen = graphics.find("listen[@type='address']")
    host = listen.get("address") if listen is not None else graphics.get("listen")
    return host or "127.0.0.1", port


def has_nvram(domain_xml: str) -> bool:
    """Whether a domain's XML names a UEFI variables file (`<os><nvram>`)."""
    return ET.fromstring(domain_xml).find("os/nvram") is not None


def clone_domain_xml(
    saved: str,
    *,
    name: str,
    uuid: str,
    title: str,
    description: str,
    lab: str,
    paths: Mapping[str, str],
    networks: Mapping[str, str],
) -> str:
    """The domain of a clone, from the domain XML a template's memory state was saved with.

    Everything the guest sees (devices, their PCI slots, MAC addresses, CPU model) stays
    as saved: the clone resumes that very memory. What names the domain and what it uses
    on the host changes: name, UUID, title, the lab in its metadata, every file in `paths`
    (overlays, seed, console log, NVRAM: old path -> new path) and every network in
    `networks` (old libvirt name -> new). What libvirt fills in at run time (interface
    devices and bridges, aliases, dynamic security labels) goes; libvirt fills it anew.
    """
    root = ET.fromstring(saved)
    _set_text(root, "name", name)
    _set_text(root, "uuid", uuid)
    _set_text(root, "title", title)
    _set_text(root, "description", description)
    for element in root.iter():
        namespace, local = _split_tag(element.tag)
        if namespace == METADATA_NS and local == "lab" and len(element) == 0:
            element.text = lab  # the lab's name (the container `<hl:lab>` has children)
        for attribute in ("file", "path"):
            value = element.get(attribute)
            if value is not None and value in paths:
                element.set(attribute, paths[value])
        if local in ("kernel", "initrd", "loader", "nvram") and element.text in paths:
            element.text = paths[element.text or ""]
    for interface in root.iterfind("devices/interface"):
        source = interface.find("source")
        if source is not None and source.get("network") in networks:
            source.set("network", networks[source.get("network") or ""])
            for runtime in ("bridge", "portid"):
                source.attrib.pop(runtime, None)
        for target in interface.findall("target"):
            interface.remove(target)
    for parent in root.iter():
        for child in list(parent):
            if child.tag == "alias" or (child.tag == "seclabel" and child.get("type") == "dynamic"):
                parent.remove(child)
    # Its filtered NICs get taps named for the clone (their filters are bound to those).
    return with_taps(ET.tostring(root, encoding="unicode") + "\n")


def _set_text(root: ET.Element, tag: str, text: str) -> None:
    element = root.find(tag)
    if element is None:
        element = ET.SubElement(root, tag)
    element.text = text


def metadata_values(lab: ET.Element) -> dict[str, str]:
    """Children of an `<hl:lab>` element as a dict.

    In a domain's XML they carry our namespace (libvirt may change the prefix, the URI
    holds); libvirt's metadata API hands the element back with no namespace at all.
    """
    values: dict[str, str] = {}
    for child in lab:
        namespace, local = _split_tag(child.tag)
        if namespace in ("", METADATA_NS):
            values[local] = child.text or ""
    return values


def _split_tag(tag: str) -> tuple[str, str]:
    """ElementTree's `{uri}local` as (uri, local); ("", tag) for a tag without namespace."""
    if not tag.startswith("{"):
        return "", tag
    namespace, _, local = tag[1:].partition("}")
    return namespace, local


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _metadata(parent: ET.Element, values: Mapping[str, str]) -> None:
    # Written with a literal prefix and xmlns attribute rather than ET.register_namespace,
    # which is process-global state; the result is the same namespace-correct XML.
    lab = ET.SubElement(parent, f"{METADATA_PREFIX}:lab", {f"xmlns:{METADATA_PREFIX}": METADATA_NS})
    for key in sorted(values):
        _text(lab, f"{METADATA_PREFIX}:{key}", values[key])


def _os(root: ET.Element, spec: DomainSpec) -> None:
    os_el = ET.SubElement(root, "os")
    _text(os_el, "type", "hvm", arch="x86_64", machine=spec.machine.value)
    if spec.uefi is not None:
        # Explicit paths, not `<os firmware='efi'>`: the XML says which OVMF build runs.
        _text(os_el, "loader", str(spec.uefi.loader), readonly="yes", type="pflash")
        _text(os_el, "nvram", str(spec.uefi.nvram), template=str(spec.uefi.template))
    boot = spec.boot
    if boot is None:
        ET.SubElement(os_el, "boot", dev="hd")
        return
    _text(os_el, "kernel", str(boot.kernel))
    if boot.initrd is not None:
        _text(os_el, "initrd", str(boot.initrd))
    if boot.cmdline:
        _text(os_el, "cmdline", boot.cmdline)


def _cpu(root: ET.Element, cpu: CpuMode) -> None:
    if cpu is CpuMode.HOST_PASSTHROUGH:
        ET.SubElement(root, "cpu", mode="host-passthrough", check="none", migratable="on")
        return
    # A named model under TCG. check='none': libvirt would otherwise compare it with the
    # host CPU, which is meaningless for an emulated CPU.
    cpu_el = ET.SubElement(root, "cpu", mode="custom", match="exact", check="none")
    _text(cpu_el, "model", cpu.value, fallback="forbid")


def _devices(devices: ET.Element, spec: DomainSpec) -> None:
    for disk in spec.disks:
        _disk(devices, disk)
    for index in _scsi_controllers(spec.disks):
        # LSI Logic, as VMware exports expect: the guest needs no virtio-scsi driver.
        # SATA and IDE need no element: libvirt adds the AHCI or PIIX controller itself.
        ET.SubElement(devices, "controller", type="scsi", index=str(index), model="lsilogic")
    for nic in spec.nics:
        _nic(devices, nic, spec.name)
    _serial(devices, spec)
    if spec.guest_agent:
        # The agent is the management path that survives a trainee breaking the network.
        channel = ET.SubElement(devices, "channel", type="unix")
        ET.SubElement(channel, "target", type="virtio", name=_AGENT_CHANNEL)
    if spec.tablet:
        # An absolute pointer: a VNC client's mouse and a desktop guest's cursor stay together.
        ET.SubElement(devices, "input", type="tablet", bus="usb")
    if spec.graphics:
        graphics = ET.SubElement(
            devices, "graphics", type="vnc", port="-1", autoport="yes", listen="127.0.0.1"
        )
        ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
        video = ET.SubElement(devices, "video")
        ET.SubElement(video, "model", type=spec.video.value)
    # No balloon: guests are small and fixed-size, placement counts their full memory, and a
    # balloon is one more device whose state a memory baseline has to carry.
    ET.SubElement(devices, "memballoon", model="none")
    if spec.rng:
        # Guests under TCG otherwise starve for entropy at boot, which stalls sshd's key
        # generation.
        rng = ET.SubElement(devices, "rng", model="virtio")
        _text(rng, "backend", "/dev/urandom", model="random")


def _scsi_controllers(disks: Iterable[DiskSpec]) -> list[int]:
    """Indexes of the SCSI controllers the disks sit on: libvirt puts target sdX on
    controller X // 7 (an LSI Logic has seven units), so sda to sdg share the first one."""
    return sorted({(ord(d.target[2]) - ord("a")) // 7 for d in disks if d.bus is DiskBus.SCSI})


def _disk(devices: ET.Element, disk: DiskSpec) -> None:
    element = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(element, "driver", name="qemu", type=disk.format.value)
    ET.SubElement(element, "source", file=str(disk.path))
    ET.SubElement(element, "target", dev=disk.target, bus=disk.bus.value)
    if disk.readonly:
        ET.SubElement(element, "readonly")


def _nic(devices: ET.Element, nic: NicSpec, domain: str) -> None:
    element = ET.SubElement(devices, "interface", type="network")
    ET.SubElement(element, "mac", address=nic.mac)
    ET.SubElement(element, "source", network=nic.network)
    if nic.filterref is not None:
        # Its filter is a binding on this fixed tap name, made once (filter_bindings),
        # not a `<filterref>` libvirt would build and tear down at every start and stop.
        ET.SubElement(element, "target", dev=tap_name(domain, nic.mac))
    ET.SubElement(element, "model", type=nic.model.value)


def _serial(devices: ET.Element, spec: DomainSpec) -> None:
    # The console on a pty (for `virsh console` and the web console) and, when asked, a
    # copy in a log file, so the orchestrator can show its tail when a guest never comes up.
    serial = ET.SubElement(devices, "serial", type="pty")
    if spec.serial_log is not None:
        ET.SubElement(serial, "log", file=str(spec.serial_log), append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")


def files_of(domain_xml: str) -> frozenset[str]:
    """The names (last path part) of the files a domain's XML names: its disks' sources,
    its kernel, initrd and UEFI variables."""
    root = ET.fromstring(domain_xml)
    paths = [s.get("file", "") for s in root.iterfind("devices/disk/source")]
    paths += [root.findtext(f"os/{tag}", "") for tag in ("kernel", "initrd", "nvram")]
    return frozenset(PurePath(p).name for p in paths if p)
