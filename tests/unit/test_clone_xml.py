"""A clone's domain XML from the XML a template's memory state was saved with: its own
name and host files, the very same virtual hardware."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from lab.driver.domain_xml import clone_domain_xml, parse_metadata
from lab.driver.specs import METADATA_NS

# What libvirt wrote into a memory state (a lab `x1` of profile tiny, machine m1).
SAVED = (
    "<domain type='qemu'><name>hlx-x1.m1</name><uuid>5b6f9e8f-591e-485c-8dee-169758f149a3</uuid>"
    "<title>x1: m1</title><description>Hromada Lab &apos;x1&apos; (profile tiny), machine m1"
    '</description><metadata><hl:lab xmlns:hl="https://hromada-lab.invalid/xmlns/lab/1">'
    "<hl:image>debian-12</hl:image><hl:lab>x1</hl:lab><hl:machine>m1</hl:machine>"
    "<hl:profile>tiny</hl:profile></hl:lab></metadata><memory unit='KiB'>524288</memory>"
    "<vcpu placement='static'>1</vcpu><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>"
    "<kernel>/h/images/blobs/48a1/vmlinuz</kernel><cmdline>root=/dev/vda rw console=ttyS0"
    "</cmdline></os><cpu mode='custom' match='exact' check='none'>"
    "<model fallback='forbid'>Nehalem</model></cpu><devices><disk type='file' device='disk'>"
    "<driver name='qemu' type='qcow2'/><source file='/h/labs/x1/disks/m1.qcow2'/>"
    "<target dev='vda' bus='virtio'/>"
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>"
    "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
    "<source file='/h/labs/x1/disks/m1-seed.iso'/><target dev='vdb' bus='virtio'/><readonly/>"
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/></disk>"
    "<interface type='network'><mac address='52:54:00:75:79:6f'/>"
    "<source network='hlx-x1.net'/><model type='virtio'/>"
    "<filterref filter='hromada-lab-nic'><parameter name='IP' value='10.77.0.10'/></filterref>"
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></interface>"
    "<interface type='network'><mac address='52:54:00:a9:4e:aa'/>"
    "<source network='hlx-x1._mgmt'/><model type='virtio'/>"
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>"
    "<serial type='pty'><log file='/h/labs/x1/console/m1.log' append='off'/>"
    "<target type='isa-serial' port='0'/></serial><console type='pty'>"
    "<log file='/h/labs/x1/console/m1.log' append='off'/><target type='serial' port='0'/>"
    "</console><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
    "</channel></devices></domain>"
)

# The same with what libvirt adds at run time (a live XML, or one saved with it), and NVRAM.
LIVE = (
    SAVED.replace(
        "<source network='hlx-x1.net'/>",
        "<source network='hlx-x1.net' portid='0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'"
        " bridge='hlx-x1-net'/><target dev='vnet7'/><alias name='net0'/>",
    )
    .replace(
        "<source network='hlx-x1._mgmt'/>",
        "<source network='hlx-x1._mgmt' bridge='hlx-x1-mgmt'/><target dev='vnet8'/>"
        "<alias name='net1'/>",
    )
    .replace(
        "<target dev='vda' bus='virtio'/>",
        "<target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>",
    )
    .replace(
        "</os>",
        "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"
        "<nvram template='/usr/share/OVMF/OVMF_VARS.fd'>/h/labs/x1/nvram/m1.fd</nvram></os>",
    )
    .replace(
        "</devices>",
        "</devices><seclabel type='dynamic' model='dac' relabel='yes'>"
        "<label>+64055:+64055</label><imagelabel>+64055:+64055</imagelabel></seclabel>"
        "<seclabel type='none' model='apparmor'/>",
    )
)

PATHS = {
    "/h/labs/x1/disks/m1.qcow2": "/h/labs/b2/disks/m1.qcow2",
    "/h/labs/x1/disks/m1-seed.iso": "/h/labs/b2/disks/m1-seed.iso",
    "/h/labs/x1/console/m1.log": "/h/labs/b2/console/m1.log",
    "/h/labs/x1/nvram/m1.fd": "/h/labs/b2/nvram/m1.fd",
}
NETWORKS = {"hlx-x1.net": "hlx-b2.net", "hlx-x1._mgmt": "hlx-b2._mgmt"}
UUID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def _clone(saved: str = SAVED, **changes: str) -> ET.Element:
    values = {
        "name": "hlx-b2.m1",
        "uuid": UUID,
        "title": "b2: m1",
        "description": "Hromada Lab 'b2' (profile tiny), machine m1",
        "lab": "b2",
    } | changes
    return ET.fromstring(clone_domain_xml(saved, paths=PATHS, networks=NETWORKS, **values))


def _all(root: ET.Element, path: str) -> list[str]:
    """Each element at `path`, serialised (tag, attributes, text and children)."""
    return [ET.tostring(e, encoding="unicode") for e in root.iterfind(path)]


@pytest.mark.parametrize("saved", [SAVED, LIVE], ids=["saved", "live"])
def test_the_clone_is_named_for_its_lab(saved: str) -> None:
    root = _clone(saved)
    assert root.findtext("name") == "hlx-b2.m1"
    assert root.findtext("uuid") == UUID
    assert root.findtext("title") == "b2: m1"
    assert root.findtext("description") == "Hromada Lab 'b2' (profile tiny), machine m1"
    text = ET.tostring(root, encoding="unicode")
    assert parse_metadata(text) == {
        "image": "debian-12",
        "lab": "b2",
        "machine": "m1",
        "profile": "tiny",
    }
    assert len(root.findall(f"metadata/{{{METADATA_NS}}}lab")) == 1
    assert "x1" not in text.replace("/h/images/", "")  # nothing of the template's lab left


@pytest.mark.parametrize("saved", [SAVED, LIVE], ids=["saved", "live"])
def test_every_host_file_and_network_is_the_clones(saved: str) -> None:
    root = _clone(saved)
    assert [s.get("file") for s in root.iterfind("devices/disk/source")] == [
        "/h/labs/b2/disks/m1.qcow2",
        "/h/labs/b2/disks/m1-seed.iso",
    ]
    assert [log.get("file") for log in root.iterfind("devices/*/log")] == [
        "/h/labs/b2/console/m1.log"
    ] * 2
    sources = root.findall("devices/interface/source")
    assert [s.attrib for s in sources] == [
        {"network": "hlx-b2.net"},
        {"network": "hlx-b2._mgmt"},
    ]  # bridge and portid are libvirt's to fill in
    assert root.findall("devices/interface/target") == []
    assert root.findall(".//alias") == []
    if saved is LIVE:
        assert root.findtext("os/nvram") == "/h/labs/b2/nvram/m1.fd"
        assert root.find("os/nvram").get("template") == "/usr/share/OVMF/OVMF_VARS.fd"  # type: ignore[union-attr]
        assert root.findtext("os/loader") == "/usr/share/OVMF/OVMF_CODE.fd"
        assert [s.get("type") for s in root.iterfind("seclabel")] == ["none"]


@pytest.mark.parametrize("saved", [SAVED, LIVE], ids=["saved", "live"])
def test_what_the_guest_sees_is_unchanged(saved: str) -> None:
    before, after = ET.fromstring(saved), _clone(saved)
    for path in (
        "memory",
        "vcpu",
        "os/type",
        "os/kernel",  # the image's kernel: shared, not the lab's
        "os/cmdline",
        "cpu",
        "devices/interface/mac",
        "devices/interface/model",
        "devices/interface/filterref",
        "devices/*/address",
        "devices/disk/target",
        "devices/disk/driver",
        "devices/disk/readonly",
        "devices/serial/target",
        "devices/console/target",
        "devices/channel",
    ):
        assert _all(after, path) == _all(before, path), path
        assert _all(before, path), path  # the comparison compared something
    assert [m.get("address") for m in after.iterfind("devices/interface/mac")] == [
        "52:54:00:75:79:6f",
        "52:54:00:a9:4e:aa",
    ]
    assert [e.tag for e in after.find("devices")] == [e.tag for e in before.find("devices")]  # type: ignore[union-attr]


def test_unmapped_files_and_networks_stay() -> None:
    saved = SAVED.replace("hlx-x1._mgmt", "default").replace(
        "/h/labs/x1/disks/m1-seed.iso", "/elsewhere/seed.iso"
    )
    root = _clone(saved)
    assert root.find("devices/interface[2]/source").get("network") == "default"  # type: ignore[union-attr]
    assert root.find("devices/disk[2]/source").get("file") == "/elsewhere/seed.iso"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "hostile",
    [
        "</title><devices><disk/></devices><title>",
        "a & b < c > d ' \" ]]> <!-- x -->",
        "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e 'x'>]>&e;",
    ],
)
def test_values_with_xml_metacharacters_stay_text(hostile: str) -> None:
    paths = PATHS | {"/h/labs/x1/disks/m1.qcow2": f"/h/labs/{hostile}.qcow2"}
    text = clone_domain_xml(
        SAVED,
        name="hlx-b2.m1",
        uuid=UUID,
        title=hostile,
        description=hostile,
        lab=hostile,
        paths=paths,
        networks=NETWORKS,
    )
    root = ET.fromstring(text)
    assert root.findtext("title") == hostile
    assert root.findtext("description") == hostile
    assert parse_metadata(text)["lab"] == hostile
    assert root.find("devices/disk/source").get("file") == f"/h/labs/{hostile}.qcow2"  # type: ignore[union-attr]
    assert len(root.findall("devices/disk")) == 2
    assert [e.tag for e in root].count("title") == 1
    assert [e.tag for e in root].count("devices") == 1


def test_a_saved_xml_without_title_gets_one() -> None:
    saved = SAVED.replace("<title>x1: m1</title>", "")
    root = _clone(saved)
    assert root.findtext("title") == "b2: m1"
    assert len(root.findall("title")) == 1
