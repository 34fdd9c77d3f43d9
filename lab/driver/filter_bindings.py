"""A lab NIC's network filter as a binding that outlives the machine's process (pure).

A `<filterref>` in a domain's NIC makes libvirt build the filter's ebtables and iptables
rules at every start and tear them down at every stop, one command at a time and one
machine at a time: about half a second each way per NIC here, which a memory reset pays
twice for every filtered NIC. A lab NIC is instead given a fixed tap name (`tap_name`)
and its filter is a libvirt *filter binding* on that name, made once and kept until the
domain is undefined. The rules name the tap, so they stand whenever a tap of that name
exists: a destroy and a restore of the machine touch no rule at all.

What the filter is, for which NIC, lives in the domain's own metadata (`FILTERS_NS`), so a
memory state carries it and a clone of it is given taps of its own. The driver makes a
missing binding while the machine's process is paused, before the guest runs a single
instruction (lab.driver.connection).
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

FILTERS_NS = "https://hromada-lab.invalid/xmlns/nic-filters/1"
FILTERS_PREFIX = "hlf"
_TAG = f"{{{FILTERS_NS}}}filters"


@dataclass(frozen=True)
class FilterBinding:
    """The filter `filter` with `parameters` on the tap `portdev` of the NIC `mac`, owned
    by the domain `owner` (name, UUID)."""

    portdev: str
    mac: str
    filter: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""
    owner_uuid: str = ""


def tap_name(domain: str, mac: str) -> str:
    """The fixed tap name of a domain's NIC: `hl` and 10 hex digits (the kernel allows 15
    characters; libvirt keeps `vnet` names for itself)."""
    digest = hashlib.blake2s(f"{domain}\0{mac.lower()}".encode(), digest_size=5).hexdigest()
    return f"hl{digest}"


def filters_element(filters: Mapping[str, tuple[str, Mapping[str, str]]]) -> ET.Element:
    """The `<metadata>` child naming each filtered NIC by MAC: {mac: (filter, parameters)}."""
    # A literal prefix and xmlns attribute, as lab.driver.domain_xml does (no global state).
    root = ET.Element(f"{FILTERS_PREFIX}:filters", {f"xmlns:{FILTERS_PREFIX}": FILTERS_NS})
    for mac in sorted(filters):
        name, parameters = filters[mac]
        nic = ET.SubElement(root, f"{FILTERS_PREFIX}:nic", mac=mac.lower(), filter=name)
        for key in sorted(parameters):
            ET.SubElement(nic, f"{FILTERS_PREFIX}:parameter", name=key, value=parameters[key])
    return root


def bindings_of(domain_xml: str) -> tuple[FilterBinding, ...]:
    """The filter bindings a domain needs: one per NIC its metadata names, on the tap its
    XML gives that NIC. A named NIC without a tap name of its own is an error (libvirt
    would give it a `vnet` name nobody's rules match, and it would run unfiltered)."""
    root = ET.fromstring(domain_xml)
    owner = root.findtext("name", "")
    uuid = root.findtext("uuid", "")
    bindings: list[FilterBinding] = []
    for interface, mac, (name, parameters) in _filtered_interfaces(root):
        target = interface.find("target")
        portdev = target.get("dev", "") if target is not None else ""
        if not portdev:
            raise ValueError(f"domain {owner}: filtered NIC {mac} has no tap name")
        bindings.append(FilterBinding(portdev, mac, name, parameters, owner, uuid))
    return tuple(bindings)


def with_taps(domain_xml: str) -> str:
    """The domain XML with every filtered NIC's tap named for this domain (a clone's XML
    comes from another domain's memory state; its taps must be its own)."""
    root = ET.fromstring(domain_xml)
    name = root.findtext("name", "")
    for interface, mac, _ in _filtered_interfaces(root):
        for old in interface.findall("target"):
            interface.remove(old)
        interface.insert(_after_source(interface), ET.Element("target", dev=tap_name(name, mac)))
    return ET.tostring(root, encoding="unicode") + "\n"


def _filters(root: ET.Element) -> dict[str, tuple[str, dict[str, str]]]:
    """The filtered NICs a domain's metadata names: {mac: (filter, parameters)}."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for filters in root.iterfind(f"metadata/{_TAG}"):
        for nic in filters.iterfind(f"{{{FILTERS_NS}}}nic"):
            parameters = {
                p.get("name", ""): p.get("value", "")
                for p in nic.iterfind(f"{{{FILTERS_NS}}}parameter")
            }
            found[nic.get("mac", "").lower()] = (nic.get("filter", ""), parameters)
    return found


def _filtered_interfaces(
    root: ET.Element,
) -> Iterator[tuple[ET.Element, str, tuple[str, dict[str, str]]]]:
    """(interface, its MAC, its filter and parameters) of each NIC the metadata names."""
    wanted = _filters(root)
    for interface in root.iterfind("devices/interface"):
        mac_element = interface.find("mac")
        mac = (mac_element.get("address", "") if mac_element is not None else "").lower()
        if mac in wanted:
            yield interface, mac, wanted[mac]


def _after_source(interface: ET.Element) -> int:
    children = list(interface)
    for index, child in enumerate(children):
        if child.tag == "source":
            return index + 1
    return len(children)


def binding_xml(binding: FilterBinding) -> str:
    """The libvirt `<filterbinding>` document of `binding`."""
    root = ET.Element("filterbinding")
    owner = ET.SubElement(root, "owner")
    ET.SubElement(owner, "name").text = binding.owner
    ET.SubElement(owner, "uuid").text = binding.owner_uuid
    ET.SubElement(root, "portdev", name=binding.portdev)
    ET.SubElement(root, "mac", address=binding.mac)
    ref = ET.SubElement(root, "filterref", filter=binding.filter)
    for key in sorted(binding.parameters):
        ET.SubElement(ref, "parameter", name=key, value=binding.parameters[key])
    return ET.tostring(root, encoding="unicode") + "\n"


def matches(existing_xml: str, binding: FilterBinding) -> bool:
    """Whether a binding libvirt holds is `binding`: same owner, tap, MAC, filter and our
    parameters (libvirt adds its own, such as MAC, to what it keeps)."""
    root = ET.fromstring(existing_xml)
    portdev = root.find("portdev")
    mac = root.find("mac")
    ref = root.find("filterref")
    if portdev is None or mac is None or ref is None:
        return False
    held = {p.get("name", ""): p.get("value", "") for p in ref.iterfind("parameter")}
    return (
        root.findtext("owner/uuid", "") == binding.owner_uuid
        and portdev.get("name") == binding.portdev
        and mac.get("address", "").lower() == binding.mac
        and ref.get("filter") == binding.filter
        and all(held.get(k) == v for k, v in binding.parameters.items())
    )


def tap_and_owner(existing_xml: str) -> tuple[str, str]:
    """(tap, owner domain name) of a binding libvirt holds."""
    root = ET.fromstring(existing_xml)
    portdev = root.find("portdev")
    return (portdev.get("name", "") if portdev is not None else "", root.findtext("owner/name", ""))
