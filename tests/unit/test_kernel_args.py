"""The kernel command line of a machine the lab boots itself: the image's, plus what the
accelerator adds (under TCG the CPU-vulnerability mitigations are off: they only cost an
emulated CPU); under KVM the image's alone."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from ipaddress import IPv4Network
from pathlib import Path

from lab.driver import domain_xml
from lab.host.facts import choose_accel
from lab.images.model import Boot, Image, Source, SourceKind
from lab.images.store import ImageStore
from lab.labs.driver_specs import domain_spec
from lab.labs.plan import plan_lab
from lab.profile import load_profile
from lab.settings import Accel, Settings
from tests.unit.test_host import facts

PROFILES = Path(__file__).parents[2] / "profiles"
CMDLINE = "root=/dev/vda rw console=ttyS0 net.ifnames=1"


def cmdline(kvm: bool) -> str | None:
    plan = plan_lab(
        load_profile(PROFILES / "tiny.yaml"),
        "k1",
        "hlt-",
        Path("/labs"),
        IPv4Network("10.250.9.0/24"),
    )
    image = Image(
        name="debian-12",
        digest="0" * 64,
        boot=Boot.KERNEL,
        kernel="vmlinuz",
        initrd="initrd.img",
        cmdline=CMDLINE,
        virtual_size=1 << 30,
        disk_size=1 << 20,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        source=Source(kind=SourceKind.IMPORT, ref="x.qcow2", sha256="0" * 64),
    )
    store = ImageStore(Settings(home=Path("/srv/hl"), libvirt_uri="test:///default"))
    accel = choose_accel(Accel.AUTO, facts(exists=kvm, accessible=kvm))
    spec = domain_spec(plan, plan.machines[0], image, store, accel)
    return ET.fromstring(domain_xml(spec)).findtext("os/cmdline")


def test_under_tcg_the_guest_kernel_runs_without_mitigations() -> None:
    assert cmdline(kvm=False) == f"{CMDLINE} mitigations=off"


def test_under_kvm_the_guest_kernel_keeps_its_defaults() -> None:
    assert cmdline(kvm=True) == CMDLINE
