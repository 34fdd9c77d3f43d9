"""OVF descriptors read into hints, and the profile stanza made of an import (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from lab.errors import InvalidError
from lab.images import Boot, Image, ImportResult, Source, SourceKind, ovf, profile_stanza
from lab.images.imports import dns_label, name_from_file
from lab.profile.appliance import DiskBus, Firmware

FIXTURES = Path(__file__).parent / "fixtures" / "ovf"
VMWARE = (FIXTURES / "vmware.ovf").read_text()
VIRTUALBOX = (FIXTURES / "virtualbox.ovf").read_text()
GiB = 1024**3


def image(name: str, size: int) -> Image:
    return Image(
        name=name,
        digest="a" * 64,
        boot=Boot.BOOTLOADER,
        virtual_size=size,
        disk_size=1,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        source=Source(kind=SourceKind.IMPORT, ref="x", sha256="b" * 64),
    )


MINIMAL = """<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References><File ovf:id="f1" ovf:href="a.vmdk" {file_attrs}/></References>
  <DiskSection><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="2"
    ovf:capacityAllocationUnits="byte * 2^30"/></DiskSection>
  {systems}
</Envelope>"""
SYSTEM = '<VirtualSystem ovf:id="{id}"><Info>x</Info></VirtualSystem>'


def minimal(file_attrs: str = "", systems: int = 1) -> str:
    body = "".join(SYSTEM.format(id=f"vm{i}") for i in range(systems))
    return MINIMAL.format(file_attrs=file_attrs, systems=body)


def test_vmware_descriptor() -> None:
    hints = ovf.parse(VMWARE).hints
    assert hints.name == "Firewall Appliance"
    assert (hints.vcpus, hints.memory, hints.firmware) == (2, 2 * GiB, Firmware.UEFI)
    assert [(d.file, d.capacity, d.bus) for d in hints.disks] == [
        ("fw-disk1.vmdk", 16 * 1024**2, DiskBus.SATA),
        ("fw-disk2.vmdk", 8 * 1024**2, DiskBus.SCSI),
    ]


def test_a_descriptor_without_hardware_gets_defaults() -> None:
    hints = ovf.parse(minimal()).hints
    assert hints.name == "vm0" and hints.vcpus == 1 and hints.memory == GiB
    assert hints.firmware is Firmware.BIOS and hints.nics == ()
    assert [(d.file, d.capacity, d.bus) for d in hints.disks] == [("a.vmdk", 2 * GiB, "sata")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not xml at all", "not a readable OVF"),
        ("<Project/>", "no Envelope"),
        (minimal(systems=2), "describes 2 virtual machines"),
        (minimal(systems=0), "describes 0 virtual machines"),
        (minimal('ovf:compression="gzip"'), "compression=gzip"),
        (minimal('ovf:chunkSize="1000"'), "chunkSize"),
        (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
            "<Envelope>&b;</Envelope>",
            "not a readable OVF",
        ),
    ],
)
def test_descriptors_refused(text: str, words: str) -> None:
    with pytest.raises(InvalidError, match=words) as exc:
        ovf.parse(text, "box.ovf")
    assert exc.value.hint


def test_stanza_of_a_multi_disk_appliance_round_trips() -> None:
    hints = ovf.parse(VMWARE).hints
    result = ImportResult(
        images=(image("fw_appliance", 40 * GiB + 1), image("fw_appliance-disk2", GiB)),
        hints=hints,
    )
    text = profile_stanza(result, "fw_appliance")
    (machine,) = yaml.safe_load(text)
    assert 'mac: "00:50:56:aa:bb:cc"' in text
    assert machine == {
        "name": "fw-appliance",
        "image": "fw_appliance",
        "vcpus": 2,
        "memory": "2GiB",
        "disk": "41GiB",
        "appliance": {
            "firmware": "uefi",
            "machine_type": "q35",
            "disk_bus": "sata",
            "nic_model": "e1000e",
            "extra_disks": ["fw_appliance-disk2"],
        },
        "nics": [
            {"network": "CHANGE-ME", "address": "CHANGE-ME", "mac": "00:50:56:aa:bb:cc"},
            {"network": "CHANGE-ME", "address": "CHANGE-ME"},
        ],
    }
    assert list(machine) == ["name", "image", "vcpus", "memory", "disk", "appliance", "nics"]


def test_stanza_of_an_ide_appliance_is_pc_and_memory_in_mib() -> None:
    hints = ovf.parse(VIRTUALBOX).hints
    result = ImportResult(images=(image("ctf-box", 16 * 1024**2),), hints=hints)
    (machine,) = yaml.safe_load(profile_stanza(result, "ctf-box"))
    assert machine["memory"] == "1536MiB" and machine["disk"] == "1GiB"
    assert machine["appliance"] == {
        "firmware": "uefi",
        "machine_type": "pc",
        "disk_bus": "ide",
        "nic_model": "virtio",
    }
    assert machine["nics"][0]["mac"] == "08:00:27:12:34:56"
    assert len(machine["nics"]) == 2


def test_stanza_of_a_bare_disk_has_defaults() -> None:
    result = ImportResult(images=(image("web", 3 * GiB),))
    (machine,) = yaml.safe_load(profile_stanza(result, "web"))
    assert machine == {
        "name": "web",
        "image": "web",
        "vcpus": 1,
        "memory": "1GiB",
        "disk": "3GiB",
        "appliance": {
            "firmware": "bios",
            "machine_type": "q35",
            "disk_bus": "sata",
            "nic_model": "e1000e",
        },
        "nics": [{"network": "CHANGE-ME", "address": "CHANGE-ME"}],
    }


def test_a_mac_of_digits_stays_a_string() -> None:
    hints = ovf.HardwareHints(name="m", nics=(ovf.NicHint(model="e1000", mac="00:50:56:11:22:33"),))
    result = ImportResult(images=(image("m", GiB),), hints=hints)
    (machine,) = yaml.safe_load(profile_stanza(result, "m"))
    assert machine["nics"][0]["mac"] == "00:50:56:11:22:33"


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("Web Server v2.ova", "web-server-v2"),
        ("debian-12.3.qcow2", "debian-12.3"),
        ("__x__.vmdk", "x"),
        ("ÄÖÜ.ovf", "imported"),
        ("a" * 80 + ".vhd", "a" * 56),
    ],
)
def test_names_from_files(file: str, name: str) -> None:
    assert name_from_file(Path(file)) == name


def test_dns_label() -> None:
    assert dns_label("fw_appliance.v2") == "fw-appliance-v2"
    assert dns_label("---") == "machine"
