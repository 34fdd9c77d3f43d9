"""The names of a lab's files on a lab server (lab.baselines.on_server), pure: each
generation's copy of a machine's own file, and which volumes are a generation's (the
ones a prune may delete) and which are the machine's own (never); the UEFI firmware a
server offers; the scratch files a template's copy to a server is staged in."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.baselines.on_server import _generation_of, frozen, frozen_disk, memory_state
from lab.errors import HostError
from lab.host.facts import server_ovmf
from lab.host.model import HostTarget, SshJump
from lab.labs.plan import LabPlan, plan_lab
from lab.profile import load_profile
from lab.settings import Settings
from lab.templates.on_server import _staged
from lab.templates.store import TemplateStore

APPLIANCE = Path(__file__).parents[1] / "appliances" / "with_data_disk.yaml.in"
POOL_PATH = Path("/var/lib/hromada-lab/pool")
GEN = "20261204T101500-a1b2c3"


@pytest.fixture
def plan(tmp_path: Path) -> LabPlan:
    """A UEFI appliance with a further disk, on lab server lab2."""
    target = HostTarget(name="lab2", pool_path=POOL_PATH, jump=SshJump(user="hl", host="lab2"))
    text = APPLIANCE.read_text().replace("IMAGE", "docflow").replace("DATA", "data")
    (tmp_path / "appliance.yaml").write_text(text)
    profile = load_profile(tmp_path / "appliance.yaml")
    return plan_lab(profile, "far", "hl-", Path("/h/labs"), IPv4Network("10.251.7.0/24"), target)


def test_a_generation_copies_every_file_of_a_machine_under_its_own_name(plan: LabPlan) -> None:
    appliance = next(m for m in plan.machines if m.extra_disks and m.nvram is not None)
    domain = appliance.domain
    assert frozen_disk(appliance, GEN) == POOL_PATH / f"{domain}.{GEN}.qcow2"
    assert memory_state(appliance, GEN) == POOL_PATH / f"{domain}.{GEN}.sav"
    disk = appliance.extra_disks[0].overlay
    assert disk == POOL_PATH / f"{domain}.disk2.qcow2"
    assert frozen(appliance, disk, GEN) == POOL_PATH / f"{domain}.{GEN}.disk2.qcow2"
    assert appliance.nvram is not None
    assert frozen(appliance, appliance.nvram, GEN) == POOL_PATH / f"{domain}.{GEN}.nvram.fd"


def test_only_a_generations_files_are_taken_for_one(plan: LabPlan) -> None:
    appliance = next(m for m in plan.machines if m.extra_disks and m.nvram is not None)
    domain = appliance.domain
    for kind in ("qcow2", "sav", "disk2.qcow2", "nvram.fd"):
        assert _generation_of(plan, f"{domain}.{GEN}.{kind}") == GEN
    assert _generation_of(plan, f"{domain}.template-base-1.qcow2") == "template-base-1"
    # The machine's own files, which a prune must never take for a generation's.
    for own in ("qcow2", "disk2.qcow2", "nvram.fd", "seed.iso", "console.log"):
        assert _generation_of(plan, f"{domain}.{own}") is None, own
    # Nor another lab's, an image's or a template's copies.
    assert _generation_of(plan, f"hl-other.{appliance.name}.{GEN}.qcow2") is None
    assert _generation_of(plan, f"{'ab' * 32}.layer.qcow2") is None
    assert _generation_of(plan, f"{domain}.{GEN}.qcow2.sha256") is None


def test_a_servers_uefi_firmware_is_what_its_libvirt_offers() -> None:
    offered = ("/usr/share/seabios/bios.bin", "/usr/share/OVMF/OVMF_CODE_4M.fd")
    ovmf = server_ovmf("lab2", offered)
    assert ovmf.code == Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
    assert ovmf.vars_template == Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
    with pytest.raises(HostError, match="host lab2 offers no UEFI firmware") as refused:
        server_ovmf("lab2", ("/usr/share/seabios/bios.bin",))
    assert "apt-get install ovmf" in (refused.value.hint or "")


def test_scratch_files_for_one_volume_are_each_their_own(tmp_path: Path) -> None:
    # The seats of a class copy one template to several servers at once, in one process.
    store = TemplateStore(Settings(home=tmp_path, libvirt_uri="test:///default"))
    with _staged(store, "ab.layer.qcow2") as one, _staged(store, "ab.layer.qcow2") as other:
        assert one != other
        one.write_bytes(b"for s1")
        other.write_bytes(b"for s2")
        assert one.read_bytes() == b"for s1"
    assert not one.exists() and not other.exists()
