"""Pure builder of libvirt storage pool XML: the directory a lab host keeps the lab's
volumes in (ElementTree, no I/O)."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def dir_pool_xml(name: str, path: str) -> str:
    """A `<pool type='dir'>` named `name` at `path` on the pool's host, private to root
    and libvirt's QEMU (mode 0711: QEMU reaches the files it is given, lists none)."""
    root = ET.Element("pool", type="dir")
    ET.SubElement(root, "name").text = name
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "path").text = path
    permissions = ET.SubElement(target, "permissions")
    ET.SubElement(permissions, "mode").text = "0711"
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def volume_xml(name: str, capacity: int) -> str:
    """A `<volume>` of `capacity` bytes that an upload fills, readable by QEMU (0644:
    what goes in a lab host's pool is base images, not secrets)."""
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(capacity)
    ET.SubElement(root, "allocation", unit="bytes").text = "0"
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", type="raw")
    permissions = ET.SubElement(target, "permissions")
    ET.SubElement(permissions, "mode").text = "0644"
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"
