"""The vendor appliance's pure parts and its cache, without building it (a build takes
minutes and the Debian mirror; the integration tests that import the appliance build it)."""

from __future__ import annotations

import os
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.errors import InvalidError
from tests.appliances import disk, ovf, vendor

NS = {"ovf": ovf.OVF, "rasd": ovf.RASD, "vmw": ovf.VMW}


def machine() -> ovf.Machine:
    return ovf.Machine(
        "docflow", "docflow-disk1.vmdk", 1234, 2 * disk.GiB, "office", "00:50:56:12:34:56"
    )


def items(root: ET.Element) -> dict[str, ET.Element]:
    hardware = root.find("ovf:VirtualSystem/ovf:VirtualHardwareSection", NS)
    assert hardware is not None
    return {
        i.findtext("rasd:ResourceType", namespaces=NS) or "": i
        for i in hardware.findall("ovf:Item", NS)
    }


def test_descriptor_names_the_vmware_hardware() -> None:
    root = ET.fromstring(ovf.descriptor(machine()))
    assert root.tag == f"{{{ovf.OVF}}}Envelope"
    found = items(root)
    assert found["3"].findtext("rasd:VirtualQuantity", namespaces=NS) == "1"
    assert found["4"].findtext("rasd:VirtualQuantity", namespaces=NS) == "512"
    assert found["20"].findtext("rasd:ResourceSubType", namespaces=NS) == "AHCI"
    assert found["17"].findtext("rasd:Parent", namespaces=NS) == "3"
    nic = found["10"]
    assert nic.findtext("rasd:ResourceSubType", namespaces=NS) == "E1000e"
    assert nic.findtext("rasd:Address", namespaces=NS) == "00:50:56:12:34:56"
    assert nic.findtext("rasd:Connection", namespaces=NS) == "office"
    config = root.find("ovf:VirtualSystem/ovf:VirtualHardwareSection/vmw:Config", NS)
    assert config is not None
    assert config.get(f"{{{ovf.VMW}}}key") == "firmware"
    assert config.get(f"{{{ovf.VMW}}}value") == "efi"
    file = root.find("ovf:References/ovf:File", NS)
    assert file is not None and file.get(f"{{{ovf.OVF}}}href") == "docflow-disk1.vmdk"


def test_rasd_elements_are_in_schema_order() -> None:
    for item in items(ET.fromstring(ovf.descriptor(machine()))).values():
        tags = [child.tag for child in item]
        assert tags == sorted(tags)


def test_ova_is_descriptor_disk_manifest(tmp_path: Path) -> None:
    descriptor, vmdk = tmp_path / "docflow.ovf", tmp_path / "docflow-disk1.vmdk"
    descriptor.write_bytes(ovf.descriptor(machine()))
    vmdk.write_bytes(b"disk")
    ovf.write_ova(descriptor, vmdk, tmp_path / "docflow.ova")
    with tarfile.open(tmp_path / "docflow.ova") as tar:
        assert tar.getnames() == ["docflow.ovf", "docflow-disk1.vmdk", "docflow.mf"]
        manifest = tar.extractfile("docflow.mf")
        assert manifest is not None
        lines = manifest.read().decode().splitlines()
    assert lines[0] == f"SHA256(docflow.ovf)= {ovf.sha256(descriptor)}"
    assert lines[1] == f"SHA256(docflow-disk1.vmdk)= {ovf.sha256(vmdk)}"


def test_layout_fits_the_disk_and_is_aligned() -> None:
    layout = disk.Layout(2 * disk.GiB)
    assert layout.esp_start % disk.MiB == 0 and layout.root_start % disk.MiB == 0
    assert layout.root_start + layout.root_size <= layout.size - 33 * 512
    script = layout.sfdisk_script()
    assert f"uuid={layout.root_guid}" in script and disk.ESP_TYPE in script


@pytest.mark.parametrize(
    ("address", "mac", "size"),
    [
        ("10.77.0.20", "00:50:56:12:34:56", 2 * disk.GiB),  # no prefix: a /32, unreachable
        ("10.77.0.300/24", "00:50:56:12:34:56", 2 * disk.GiB),
        ("10.77.0.20/24", "00:50:56:12:34", 2 * disk.GiB),
        ("10.77.0.20/24", "00:50:56:12:34:56", disk.GiB),
    ],
)
def test_bad_parameters_are_refused(address: str, mac: str, size: int) -> None:
    with pytest.raises(InvalidError):
        vendor._check(address, mac, size, "pw")


class FakeBuild:
    """Stands in for build(): writes what a build writes, counts calls, can fail."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def __call__(self, out: Path, **params: object) -> vendor.VendorAppliance:
        self.calls += 1
        out.mkdir(parents=True)
        (out / "docflow.raw").write_bytes(b"half")
        if self.fail:
            raise InvalidError("mirror gone")
        appliance = vendor.VendorAppliance(
            raw=out / "docflow.raw",
            vmdk=out / "docflow-disk1.vmdk",
            ova=out / "docflow.ova",
            address=str(params["address"]),
            mac=str(params["mac"]),
            admin_password=str(params["admin_password"]),
        )
        (out / vendor._COMPLETE).write_text(appliance.model_dump_json())
        return appliance


def test_ensure_builds_once_and_renames_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeBuild()
    monkeypatch.setattr(vendor, "build", fake)
    first = vendor.ensure(tmp_path, progress=lambda _: None)
    second = vendor.ensure(tmp_path, progress=lambda _: None)
    assert fake.calls == 1
    assert first == second
    key = vendor.cache_key(
        vendor.DEFAULT_ADDRESS, vendor.DEFAULT_MAC, 2 * disk.GiB, "docflow-admin"
    )
    assert first.raw == tmp_path / key / "docflow.raw"
    assert [p.name for p in tmp_path.iterdir()] == [key]


def test_other_parameters_are_another_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeBuild()
    monkeypatch.setattr(vendor, "build", fake)
    a = vendor.ensure(tmp_path, progress=lambda _: None)
    b = vendor.ensure(tmp_path, address="10.77.0.21/24", progress=lambda _: None)
    assert fake.calls == 2 and a.raw.parent != b.raw.parent


def test_a_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vendor, "build", FakeBuild(fail=True))
    with pytest.raises(InvalidError):
        vendor.ensure(tmp_path, progress=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_a_dead_builders_leftovers_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = tmp_path / ".building-0123456789abcdef-99999999"  # above any pid_max
    alive = tmp_path / f".building-0123456789abcdef-{os.getpid()}"
    dead.mkdir()
    alive.mkdir()
    monkeypatch.setattr(vendor, "build", FakeBuild())
    vendor.ensure(tmp_path, progress=lambda _: None)
    assert not dead.exists() and alive.exists()
