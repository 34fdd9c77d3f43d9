"""Pure builder of libvirt network XML from a `NetworkSpec` (ElementTree, no I/O)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from ipaddress import IPv4Network

from lab.driver.specs import DnsMode, NetworkSpec


def network_xml(spec: NetworkSpec) -> str:
    """The libvirt `<network>` document for `spec`, indented, without an XML declaration."""
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec.name
    if not spec.isolated:
        # Only on explicit request: NAT to the host's uplink. Without any <forward> element
        # libvirt makes an isolated network: guests reach each other and the host, no more.
        ET.SubElement(root, "forward", mode="nat")
    # delay='0' and STP off: a new port forwards at once instead of after ~4 s of learning.
    ET.SubElement(root, "bridge", name=spec.bridge, stp="on" if spec.stp else "off", delay="0")
    if spec.mtu is not None:
        ET.SubElement(root, "mtu", size=str(spec.mtu))
    _dns(root, spec)
    _ip(root, spec)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def _dns(root: ET.Element, spec: NetworkSpec) -> None:
    if spec.host_address is None:
        return  # no address on the host: libvirt runs no dnsmasq for it at all
    if spec.dns is DnsMode.DISABLED:
        ET.SubElement(root, "dns", enable="no")
        return
    # dnsmasq answers for the lab's own names (static DHCP hosts) and forwards nothing
    # under that domain; an isolated network has no upstream to forward to anyway.
    ET.SubElement(root, "domain", name=spec.dns_domain, localOnly="yes")


def _ip(root: ET.Element, spec: NetworkSpec) -> None:
    iface = spec.host_address
    if iface is None:
        return
    ip = ET.SubElement(root, "ip", address=str(iface.ip), netmask=str(iface.netmask))
    if spec.dhcp_range is None and not spec.dhcp_hosts:
        return
    dhcp = ET.SubElement(ip, "dhcp")
    if spec.dhcp_range is not None:
        ET.SubElement(dhcp, "range", start=str(spec.dhcp_range.start), end=str(spec.dhcp_range.end))
    for host in spec.dhcp_hosts:
        ET.SubElement(dhcp, "host", mac=host.mac, name=host.hostname, ip=str(host.ip))


def ipv4_subnets(xml: str) -> set[IPv4Network]:
    """The IPv4 subnets a network's XML gives the host (`<ip address= prefix|netmask=>`)."""
    out: set[IPv4Network] = set()
    for ip in ET.fromstring(xml).iter("ip"):
        address = ip.get("address")
        if ip.get("family", "ipv4") != "ipv4" or not address:
            continue
        mask = ip.get("prefix") or ip.get("netmask") or "24"
        out.add(IPv4Network(f"{address}/{mask}", strict=False))
    return out
