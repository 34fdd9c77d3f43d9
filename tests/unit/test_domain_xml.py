"""The domain XML builder: expected output, libvirt's own schema, and escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import ValidationError

from lab.commands import run
from lab.driver import (
    CpuMode,
    DiskBus,
    DiskFormat,
    DiskSpec,
    DomainSpec,
    FilterRef,
    Firmware,
    KernelBoot,
    MachineType,
    NicModel,
    NicSpec,
    UefiFirmware,
    VideoModel,
    VirtType,
    disk_target,
    domain_xml,
    has_nvram,
    parse_metadata,
)
from lab.driver.domain_xml import files_of, vnc_endpoint
from lab.errors import InvalidError

EXPECTED = Path(__file__).parent / "expected"
NASTY = "a<b & c \"quoted\" 'single' ]]> </title><x/>"


def tcg_spec(**changes: object) -> DomainSpec:
    """A TCG guest as the lab boots them: direct kernel boot, overlay + read-only seed."""
    base: dict[str, object] = {
        "name": "hl-demo-web1",
        "uuid": UUID("6f1c9a4e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"),
        "title": "web1 of lab demo",
        "description": "Community web server",
        "vcpus": 1,
        "memory_mib": 512,
        "virt_type": VirtType.QEMU,
        "cpu": CpuMode.NEHALEM,
        "disks": (
            DiskSpec(path=Path("/var/lib/hromada-lab/labs/demo/web1.qcow2"), target="vda"),
            DiskSpec(
                path=Path("/var/lib/hromada-lab/labs/demo/web1-seed.img"),
                format=DiskFormat.RAW,
                target="vdb",
                readonly=True,
            ),
        ),
        "nics": (
            NicSpec(
                network="hl-demo-lan",
                mac="52:54:00:12:34:56",
                filterref=FilterRef(name="clean-traffic", parameters={"IP": "10.10.0.11"}),
            ),
        ),
        "boot": KernelBoot(
            kernel=Path("/var/lib/hromada-lab/images/debian-12/vmlinuz"),
            initrd=Path("/var/lib/hromada-lab/images/debian-12/initrd.img"),
            cmdline="root=/dev/vda console=ttyS0",
        ),
        "serial_log": Path("/var/lib/hromada-lab/labs/demo/web1-console.log"),
        "guest_agent": True,
        "graphics": False,
        "metadata": {"lab": "demo", "machine": "web1", "profile": "hromada-basic"},
    }
    base.update(changes)
    return DomainSpec.model_validate(base)


def kvm_spec() -> DomainSpec:
    """A KVM guest booting its own bootloader, with VNC and no extras."""
    return DomainSpec(
        name="hl-class1-seat03-pc",
        vcpus=2,
        memory_mib=2048,
        virt_type=VirtType.KVM,
        cpu=CpuMode.HOST_PASSTHROUGH,
        disks=(DiskSpec(path=Path("/srv/hl/seat03/pc.qcow2"), target="vda"),),
        nics=(NicSpec(network="hl-class1-seat03", mac="52:54:00:aa:bb:03"),),
        guest_agent=False,
        graphics=True,
    )


OVMF = UefiFirmware(
    loader=Path("/usr/share/OVMF/OVMF_CODE_4M.fd"),
    template=Path("/usr/share/OVMF/OVMF_VARS_4M.fd"),
    nvram=Path("/srv/hl/seat03/win_VARS.fd"),
)


def appliance_spec(**changes: object) -> DomainSpec:
    """An imported Windows workstation: UEFI on q35, a SATA disk, an e1000e NIC, VNC with a
    tablet, and none of the virtio devices it has no drivers for."""
    base: dict[str, object] = {
        "name": "hl-class1-seat03-win",
        "vcpus": 2,
        "memory_mib": 4096,
        "virt_type": VirtType.KVM,
        "cpu": CpuMode.HOST_PASSTHROUGH,
        "machine": MachineType.Q35,
        "uefi": OVMF,
        "disks": (DiskSpec(path=Path("/srv/hl/seat03/win.qcow2"), target="sda", bus=DiskBus.SATA),),
        "nics": (NicSpec(network="hl-class1-seat03", mac="52:54:00:aa:bb:04", model="e1000e"),),
        "guest_agent": False,
        "rng": False,
        "graphics": True,
        "video": VideoModel.VGA,
        "tablet": True,
    }
    base.update(changes)
    return DomainSpec.model_validate(base)


def validate(tmp_path: Path, xml: str, kind: str) -> None:
    """libvirt's own RELAX NG schema must accept the document."""
    path = tmp_path / f"{kind}.xml"
    path.write_text(xml)
    run(["virt-xml-validate", path, kind], hint="apt-get install libvirt-clients")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (tcg_spec(), "domain-tcg.xml"),
        (kvm_spec(), "domain-kvm.xml"),
        (appliance_spec(), "domain-appliance.xml"),
    ],
)
def test_matches_expected_and_schema(tmp_path: Path, spec: DomainSpec, expected: str) -> None:
    xml = domain_xml(spec)
    assert xml == (EXPECTED / expected).read_text()
    validate(tmp_path, xml, "domain")


def test_tcg_guest_details() -> None:
    root = ET.fromstring(domain_xml(tcg_spec()))
    assert root.get("type") == "qemu"
    assert root.findtext("cpu/model") == "Nehalem"
    assert root.findtext("on_crash") == "destroy"
    seed = [d for d in root.iterfind("devices/disk") if d.find("target").get("dev") == "vdb"]  # type: ignore[union-attr]
    assert seed[0].find("readonly") is not None
    assert seed[0].find("target").get("bus") == "virtio"  # type: ignore[union-attr]
    channel = root.find("devices/channel/target")
    assert channel is not None and channel.get("name") == "org.qemu.guest_agent.0"
    assert root.findtext("devices/rng/backend") == "/dev/urandom"
    log = root.find("devices/serial/log")
    assert log is not None and log.get("file", "").endswith("web1-console.log")


def test_a_tcg_guest_gets_the_code_cache_it_is_given_and_kvm_none(tmp_path: Path) -> None:
    xml = domain_xml(tcg_spec(tb_cache_mib=256))
    cache = ET.fromstring(xml).find("features/tcg/tb-cache")
    assert cache is not None and cache.text == "256" and cache.get("unit") == "MiB"
    validate(tmp_path, xml, "domain")  # libvirt's own schema knows it
    assert ET.fromstring(domain_xml(tcg_spec())).find("features/tcg") is None  # QEMU's own
    kvm = kvm_spec().model_copy(update={"tb_cache_mib": 256})
    assert ET.fromstring(domain_xml(kvm)).find("features/tcg") is None


def test_kvm_guest_uses_host_cpu_and_vnc_on_loopback() -> None:
    root = ET.fromstring(domain_xml(kvm_spec()))
    assert root.get("type") == "kvm"
    cpu = root.find("cpu")
    assert cpu is not None and cpu.get("mode") == "host-passthrough"
    assert root.find("os/boot") is not None and root.find("os/kernel") is None
    graphics = root.find("devices/graphics")
    assert graphics is not None and graphics.get("listen") == "127.0.0.1"
    assert root.find("devices/channel") is None
    assert root.find("metadata") is None


def test_hostile_values_stay_text(tmp_path: Path) -> None:
    spec = tcg_spec(
        title=NASTY,
        description=NASTY + "\nsecond line",
        metadata={"lab": NASTY, "owner": "Іван & Co"},
        boot=KernelBoot(kernel=Path("/k/<&'\">"), cmdline=NASTY),
        serial_log=Path("/log/]]>&\"'.log"),
    )
    xml = domain_xml(spec)
    root = ET.fromstring(xml)  # still well-formed
    assert root.findtext("title") == NASTY
    assert root.findtext("description") == NASTY + "\nsecond line"
    assert root.findtext("os/kernel") == "/k/<&'\">"
    assert root.findtext("os/cmdline") == NASTY
    assert root.find("devices/serial/log").get("file") == "/log/]]>&\"'.log"  # type: ignore[union-attr]
    assert root.find("x") is None and root.find("title/x") is None
    assert parse_metadata(xml) == {"lab": NASTY, "owner": "Іван & Co"}
    validate(tmp_path, xml, "domain")


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "bad name"},
        {"name": "<x>"},
        {"title": "two\nlines"},
        {"description": "bell\x07"},
        {"metadata": {"Bad Key": "x"}},
        {"vcpus": 0},
        {"unknown": 1},
        {"machine": "isapc"},
        {"nics": ({"network": "n", "mac": "52:54:00:00:00:01", "model": "pcnet"},)},
        {"video": "bochs"},
        {
            "disks": (
                DiskSpec(path=Path("/a"), target="vda"),
                DiskSpec(path=Path("/b"), target="vda"),
            )
        },
    ],
)
def test_spec_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        tcg_spec(**changes)


def test_spec_is_frozen() -> None:
    with pytest.raises(ValidationError):
        tcg_spec().name = "other"  # type: ignore[misc]


def test_parse_metadata_without_metadata() -> None:
    assert parse_metadata(domain_xml(kvm_spec())) == {}


def test_parse_metadata_reads_libvirt_reprefixed_form() -> None:
    # libvirt may hand metadata back with its own prefix; only the namespace URI counts.
    xml = (
        "<domain><metadata><lab:lab xmlns:lab='https://hromada-lab.invalid/xmlns/lab/1'>"
        "<lab:machine>db</lab:machine></lab:lab><other xmlns='urn:x'><machine>no</machine></other>"
        "</metadata></domain>"
    )
    assert parse_metadata(xml) == {"machine": "db"}


def test_defaults_are_todays_hardware() -> None:
    spec = kvm_spec()
    assert spec.machine is MachineType.PC and spec.uefi is None
    assert spec.firmware is Firmware.BIOS
    assert spec.disks[0].bus is DiskBus.VIRTIO and spec.nics[0].model is NicModel.VIRTIO
    assert spec.video is VideoModel.VGA and not spec.tablet and spec.rng


def test_appliance_hardware() -> None:
    spec = appliance_spec()
    root = ET.fromstring(domain_xml(spec))
    assert spec.firmware is Firmware.UEFI
    assert root.find("os/type").get("machine") == "q35"  # type: ignore[union-attr]
    loader = root.find("os/loader")
    assert loader is not None and loader.text == "/usr/share/OVMF/OVMF_CODE_4M.fd"
    assert loader.attrib == {"readonly": "yes", "type": "pflash"}
    nvram = root.find("os/nvram")
    assert nvram is not None and nvram.text == "/srv/hl/seat03/win_VARS.fd"
    assert nvram.attrib == {"template": "/usr/share/OVMF/OVMF_VARS_4M.fd"}
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    assert root.find("os").get("firmware") is None  # type: ignore[union-attr]
    assert root.find("devices/disk/target").attrib == {"dev": "sda", "bus": "sata"}  # type: ignore[union-attr]
    assert root.find("devices/controller") is None  # libvirt adds the AHCI controller
    assert root.find("devices/interface/model").get("type") == "e1000e"  # type: ignore[union-attr]
    assert root.find("devices/input").attrib == {"type": "tablet", "bus": "usb"}  # type: ignore[union-attr]
    assert root.find("devices/video/model").get("type") == "vga"  # type: ignore[union-attr]
    assert root.find("devices/rng") is None and root.find("devices/channel") is None
    assert root.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert root.find("devices/console") is not None
    assert has_nvram(domain_xml(spec)) and not has_nvram(domain_xml(kvm_spec()))


def test_appliance_console_and_metadata_are_found() -> None:
    spec = appliance_spec(metadata={"lab": "class1", "machine": "win"})
    root = ET.fromstring(domain_xml(spec))
    graphics = root.find("devices/graphics")
    assert graphics is not None
    graphics.set("port", "5903")  # as libvirt reports a running domain
    live = ET.tostring(root, encoding="unicode")
    assert vnc_endpoint(live) == ("127.0.0.1", 5903)
    assert parse_metadata(live) == {"lab": "class1", "machine": "win"}


@pytest.mark.parametrize("video", list(VideoModel))
def test_video_model_follows_spec(video: VideoModel) -> None:
    root = ET.fromstring(domain_xml(appliance_spec(video=video)))
    assert [m.get("type") for m in root.iterfind("devices/video/model")] == [video.value]


def test_no_video_without_graphics() -> None:
    root = ET.fromstring(domain_xml(appliance_spec(graphics=False, video=VideoModel.QXL)))
    assert root.find("devices/video") is None and root.find("devices/graphics") is None


def test_scsi_disks_share_one_lsilogic_controller(tmp_path: Path) -> None:
    disks = tuple(
        DiskSpec(
            path=Path(f"/srv/vmdk/disk{i}.qcow2"),
            target=disk_target(DiskBus.SCSI, i),
            bus=DiskBus.SCSI,
        )
        for i in range(3)
    )
    xml = domain_xml(appliance_spec(machine=MachineType.PC, uefi=None, disks=disks))
    controllers = ET.fromstring(xml).findall("devices/controller")
    assert [c.attrib for c in controllers] == [{"type": "scsi", "index": "0", "model": "lsilogic"}]
    validate(tmp_path, xml, "domain")


def test_eighth_scsi_disk_gets_a_second_controller() -> None:
    # libvirt puts sdh on controller 1: an LSI Logic has seven units.
    disks = tuple(
        DiskSpec(path=Path(f"/d{i}"), target=disk_target(DiskBus.SCSI, i), bus=DiskBus.SCSI)
        for i in range(8)
    )
    root = ET.fromstring(domain_xml(appliance_spec(disks=disks)))
    assert [c.get("index") for c in root.iterfind("devices/controller")] == ["0", "1"]


def test_ide_disks_on_i440fx(tmp_path: Path) -> None:
    disks = (DiskSpec(path=Path("/srv/old/xp.qcow2"), target="hda", bus=DiskBus.IDE),)
    spec = appliance_spec(machine=MachineType.PC, uefi=None, disks=disks, video="cirrus")
    xml = domain_xml(spec)
    root = ET.fromstring(xml)
    assert root.find("devices/disk/target").attrib == {"dev": "hda", "bus": "ide"}  # type: ignore[union-attr]
    assert root.find("devices/controller") is None
    validate(tmp_path, xml, "domain")


def test_disk_target_names() -> None:
    assert [disk_target(DiskBus.VIRTIO, i) for i in range(3)] == ["vda", "vdb", "vdc"]
    assert disk_target(DiskBus.SATA, 0) == "sda" and disk_target(DiskBus.SCSI, 25) == "sdz"
    assert disk_target(DiskBus.IDE, 3) == "hdd"
    with pytest.raises(InvalidError, match="disk 27 on bus virtio"):
        disk_target(DiskBus.VIRTIO, 26)


@pytest.mark.parametrize(
    ("target", "bus"),
    [("vda", "sata"), ("sda", "virtio"), ("hda", "scsi"), ("sdb", "ide"), ("hde", "ide")],
)
def test_disk_target_must_fit_bus(target: str, bus: str) -> None:
    with pytest.raises(ValidationError, match="disk target"):
        DiskSpec(path=Path("/d"), target=target, bus=bus)


def test_ide_refused_on_q35() -> None:
    disks = (DiskSpec(path=Path("/d"), target="hda", bus=DiskBus.IDE),)
    with pytest.raises(ValidationError, match="q35 has no IDE controller"):
        appliance_spec(disks=disks)


def test_uefi_refuses_kernel_boot() -> None:
    with pytest.raises(ValidationError, match="UEFI firmware and direct kernel boot"):
        tcg_spec(uefi=OVMF)


def test_uefi_paths_refuse_control_characters() -> None:
    with pytest.raises(ValidationError):
        UefiFirmware(loader=Path("/a\nb"), template=Path("/t"), nvram=Path("/n"))


def test_the_files_a_domain_names_are_its_disks_kernel_initrd_and_variables() -> None:
    assert files_of(domain_xml(tcg_spec())) == {
        "web1.qcow2",
        "web1-seed.img",
        "vmlinuz",
        "initrd.img",
    }
    uefi = files_of(domain_xml(tcg_spec(boot=None, uefi=OVMF)))
    assert "vmlinuz" not in uefi and "win_VARS.fd" in uefi
