"""The lab NIC filter: libvirt nwfilter XML for anti-spoofing, built once (pure).

libvirt's own `clean-traffic` does the same job through seven sub-filters, each its own
ebtables chain in both directions; building and tearing those down cost ~4.5 s per reset
of a two-NIC machine here when libvirt did it at every start and stop (now a filter is
built once per NIC, lab.driver.filter_bindings). This one is a single chain of rules on
what the guest sends, with the same effect on spoofing: its own MAC only, IPv4 from its
own address only, ARP naming only its own MAC and address, QEMU's RARP announce after a
restore, and nothing else (no IPv6, no other layer 2). What comes in to the guest is not
filtered. `$MAC` and `$IP` are libvirt's filter variables:
the NIC's MAC, and the address the lab's plan gave it (`<parameter name='IP'>`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

NIC_FILTER = "hromada-lab-nic"
# A fixed UUID makes defining the filter idempotent: two labs starting at once on a new host
# both define it, and libvirt takes a second definition with the same name and UUID as an
# update, where one without a UUID fails ("already exists with uuid ...").
NIC_FILTER_UUID = "6f1d3c2a-58b4-4e0c-9a7e-0c5b8d1e2f40"

# (action, priority, element, attributes): lower priorities are matched first.
_RULES: tuple[tuple[str, int, str, dict[str, str]], ...] = (
    ("drop", 100, "mac", {"match": "no", "srcmacaddr": "$MAC"}),
    ("drop", 200, "ip", {"match": "no", "srcipaddr": "$IP"}),
    ("drop", 300, "arp", {"match": "no", "arpsrcmacaddr": "$MAC"}),
    ("drop", 310, "arp", {"match": "no", "arpsrcipaddr": "$IP"}),
    ("accept", 400, "mac", {"protocolid": "ipv4"}),
    ("accept", 410, "mac", {"protocolid": "arp"}),
    ("accept", 420, "mac", {"protocolid": "0x8035"}),  # RARP: QEMU's announce-self
    ("drop", 1000, "mac", {}),
)


def nic_filter_xml() -> str:
    """The `<filter>` document for NIC_FILTER."""
    root = ET.Element("filter", name=NIC_FILTER, chain="root")
    ET.SubElement(root, "uuid").text = NIC_FILTER_UUID
    for action, priority, element, attrs in _RULES:
        rule = ET.SubElement(root, "rule", action=action, direction="out", priority=str(priority))
        ET.SubElement(rule, element, attrib=dict(attrs))
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"
