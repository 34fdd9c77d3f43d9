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
