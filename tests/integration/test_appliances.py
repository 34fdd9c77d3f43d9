"""A community's own machine, run as it is: a vendor appliance made from the Debian mirror
the way a vendor ships one (UEFI, a SATA disk, an e1000e NIC, its own static address and
web application, no cloud-init), exported as a VMDK and an OVA, imported, and brought up
in a lab beside a managed Debian machine.

One lab serves the module: it comes up ready by the appliance's HTTP probe, the managed
machine reaches the application, the graphical console answers, and a trainee's change
made through the application is undone by a memory reset that the probe verifies.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.baselines.records import ResetMode
from lab.errors import InvalidError
from lab.images import ImageStore, profile_stanza
from lab.labs import consoles, deployment, guest, lifecycle
from lab.settings import Settings
from tests.appliances import vendor
from tests.homes import IMAGE_HOME

pytestmark = pytest.mark.integration

LAB = "ap"
ADDRESS = "10.77.0.20"
CACHE = IMAGE_HOME / "test-appliances"


@pytest.fixture(scope="module")
def appliance() -> vendor.VendorAppliance:
    """The vendor's appliance, built once per machine (`make test-images` builds it)."""
    return vendor.ensure(CACHE)


@pytest.fixture(scope="module")
def image_name(settings: Settings, appliance: vendor.VendorAppliance) -> Iterator[str]:
    """The appliance's VMDK imported under a name of this run (the store is shared)."""
    store = ImageStore(settings)
    name = f"docflow-t{os.getpid()}"
    result = store.import_file(appliance.vmdk, name, progress=print)
    assert [i.name for i in result.images] == [name]
    yield name
    store.remove(name, used_by=[])


@pytest.fixture(scope="module")
def lab(
    settings: Settings, image_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    profile = tmp_path_factory.mktemp("appliance") / "appliance.yaml"
    profile.write_text(
        textwrap.dedent(
            f"""\
            community: {{name: vendor, title: "Постачальник", oblast: "Сумська", kind: rural}}
            networks:
              - {{name: office, cidr: 10.77.0.0/24}}
            machines:
              - name: ws
                image: debian-12
                memory: 512MiB
                nics: [{{network: office, address: 10.77.0.10}}]
              - name: docflow
                image: {image_name}
                memory: 512MiB
                disk: 2GiB
                appliance:
                  firmware: uefi
                  machine_type: q35
                  disk_bus: sata
                  nic_model: e1000e
                  guest_agent: true
                  logins: [{{user: admin, password: docflow-admin}}]
                  ready: [{{kind: http, path: /health, expect_text: ok}}]
                nics: [{{network: office, address: {ADDRESS}, mac: "00:50:56:12:34:56"}}]
            tests:
              - name: docflow-page
                machine: docflow
                probe: {{kind: http, path: /, expect_text: Vendor Docflow}}
                quick: true
            """
        )
    )
    lifecycle.up(settings, profile, LAB)
    yield LAB
    lifecycle.down(settings, LAB)


def from_ws(settings: Settings, lab: str, request: str) -> str:
    """An HTTP request to the appliance, sent from the managed machine (bash's /dev/tcp:
    the lab's networks are not reachable from the host)."""
    plan = lifecycle.get_lab(settings, lab).plan
    script = (
        f"exec 3<>/dev/tcp/{ADDRESS}/80; printf %b {shlex.quote(request)} >&3; timeout 10 cat <&3"
    )
    result = guest.run(deployment.admin_address(plan, plan.machine("ws")), script, timeout=60)
    assert result.exit_code == 0, result
    return result.stdout


def test_the_appliance_comes_up_ready_by_its_probe(settings: Settings, lab: str) -> None:
    report = lifecycle.status(settings, lab)
    by_name = {m.name: m for m in report.machines}
    assert by_name["docflow"].reachable, report  # its ready probe passes now
    assert by_name["docflow"].addresses == (("office", ADDRESS),)
    assert report.lab.verification is not None and report.lab.verification.passed


def test_the_managed_machine_reaches_the_application(settings: Settings, lab: str) -> None:
    page = from_ws(settings, lab, "GET / HTTP/1.0\\r\\nHost: docflow\\r\\n\\r\\n")
    assert "200" in page.splitlines()[0] and "Vendor Docflow" in page


def test_the_graphical_console_answers(settings: Settings, lab: str) -> None:
    host, port = consoles.vnc_address(settings, lab, "docflow")
    with socket.create_connection((host, port), timeout=10) as vnc:
        assert vnc.recv(12).startswith(b"RFB 003.")


def test_a_trainees_change_is_undone_by_a_memory_reset(settings: Settings, lab: str) -> None:
    resets.baseline(settings, lab)
    change_is_undone_by_a_memory_reset(settings, lab)


def change_is_undone_by_a_memory_reset(settings: Settings, lab: str) -> None:
    """A note added through the appliance's application (from the managed machine) is
    there, and gone after a memory reset of the lab to its baseline."""
    note = "trainee-was-here"
    body = f"note={note}"
    post = (
        "POST /notes HTTP/1.0\\r\\nHost: docflow\\r\\n"
        "Content-Type: application/x-www-form-urlencoded\\r\\n"
        f"Content-Length: {len(body)}\\r\\n\\r\\n{body}"
    )
    from_ws(settings, lab, post)
    assert note in from_ws(settings, lab, "GET / HTTP/1.0\\r\\n\\r\\n")
    record = resets.reset(settings, lab)
    assert record.ok and record.mode is ResetMode.MEMORY, record
    assert note not in from_ws(settings, lab, "GET / HTTP/1.0\\r\\n\\r\\n")


def test_the_ova_gives_the_hardware_and_the_same_disk(
    settings: Settings, appliance: vendor.VendorAppliance, image_name: str
) -> None:
    store = ImageStore(settings)
    name = f"docflow-ova-t{os.getpid()}"
    result = store.import_file(appliance.ova, name, progress=print)
    try:
        hints = result.hints
        assert hints is not None
        assert (hints.vcpus, hints.memory, hints.firmware) == (1, 512 * 1024**2, "uefi")
        assert [d.bus for d in hints.disks] == ["sata"]
        assert [(n.model, n.mac) for n in hints.nics] == [("e1000e", appliance.mac)]
        (image,) = result.images
        # The same disk, content-addressed: the OVA's VMDK is the one imported before.
        assert image.digest == store.get(image_name).digest
        assert image.firmware == "uefi"  # its partition table says so too
        stanza = profile_stanza(result, name)
        assert "firmware: uefi" in stanza and "disk_bus: sata" in stanza
        assert f'mac: "{appliance.mac}"' in stanza
    finally:
        store.remove(name, used_by=[])


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_disk_is_refused_and_nothing_is_stored(
    settings: Settings, appliance: vendor.VendorAppliance, tmp_path: Path, damage: str
) -> None:
    broken = tmp_path / "docflow.vmdk"
    shutil.copyfile(appliance.vmdk, broken)
    with broken.open("r+b") as f:
        if damage == "truncated":
            f.truncate(broken.stat().st_size // 2)
        else:
            f.seek(512)
            f.write(os.urandom(4096))  # the grain directory and tables of a VMDK
    store = ImageStore(settings)
    before = sorted(p.name for p in (settings.images_dir / "blobs").iterdir())
    names = sorted(p.name for p in (settings.images_dir / "names").iterdir())
    with pytest.raises(InvalidError) as info:
        store.import_file(broken, f"broken-t{os.getpid()}", progress=print)
    assert str(broken) in info.value.message or broken.name in info.value.message
    assert sorted(p.name for p in (settings.images_dir / "blobs").iterdir()) == before
    assert sorted(p.name for p in (settings.images_dir / "names").iterdir()) == names
