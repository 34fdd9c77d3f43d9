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


def volume_xml(name: str, capacity: int, mode: str = "0644") -> str:
    """A raw `<volume>` of `capacity` bytes that an upload fills. `mode` 0644 for base
    images (readable by QEMU, no secrets); 0600 for a lab's own files (a seed holds the
    guest's host key): libvirt hands those to QEMU's user when the machine starts."""
    root = _volume(name, capacity, "raw", mode)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def overlay_xml(name: str, capacity: int, backing: str) -> str:
    """A qcow2 `<volume>` over the base image at `backing` (a path on the pool's host):
    the machine writes here, never to the image; 0600, as the lab's own."""
    root = _volume(name, capacity, "qcow2", "0600")
    store = ET.SubElement(root, "backingStore")
    ET.SubElement(store, "path").text = backing
    ET.SubElement(store, "format", type="qcow2")
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def frozen_xml(name: str, capacity: int) -> str:
    """A standalone qcow2 `<volume>` (no backing file) that a copy fills: a baseline's
    frozen disk layer on a lab server; 0600, as the lab's own."""
    root = _volume(name, capacity, "qcow2", "0600")
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def backing_path(volume: str) -> str | None:
    """The backing file's path a volume's XML names, or None."""
    return ET.fromstring(volume).findtext("backingStore/path")


def _volume(name: str, capacity: int, fmt: str, mode: str) -> ET.Element:
    root = ET.Element("volume")
    ET.SubElement(root, "name").text = name
    ET.SubElement(root, "capacity", unit="bytes").text = str(capacity)
    ET.SubElement(root, "allocation", unit="bytes").text = "0"
    target = ET.SubElement(root, "target")
    ET.SubElement(target, "format", type=fmt)
    permissions = ET.SubElement(target, "permissions")
    ET.SubElement(permissions, "mode").text = mode
    return root
