"""Paced boots against libvirt's test driver: every machine of a plan is started, never
more booting at once than there are slots, and a machine holds its slot until it is
ready (the real API; readiness is the callback the caller gives)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.driver.connection import DomainState, Driver
from lab.driver.domain_xml import domain_xml
from lab.driver.network_xml import network_xml
from lab.driver.specs import VirtType
from lab.errors import LabError
from lab.labs import deployment
from lab.labs.driver_specs import network_spec
from lab.labs.plan import LabPlan, MachinePlan, plan_lab
from lab.profile import load_profile
from tests.driver.test_connection import spec

pytestmark = pytest.mark.driver

PROFILE = Path(__file__).parents[2] / "profiles" / "role-sets.yaml"


class Booting:
    """Counts the machines booting at once (each for the `seconds` it holds) and the most
    seen together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now: set[str] = set()
        self.most = 0

    def hold(self, name: str, seconds: float) -> None:
        with self._lock:
            self._now.add(name)
            self.most = max(self.most, len(self._now))
        time.sleep(seconds)
        with self._lock:
            self._now.discard(name)


def define(driver: Driver, made: LabPlan) -> LabPlan:
    for net in made.all_networks:
        driver.define_network(network_xml(network_spec(net)))
    for machine in made.machines:
        driver.define_domain(domain_xml(spec(machine.domain)))
    return made


def remove(driver: Driver, made: LabPlan) -> None:
    for machine in made.machines:
        if driver.domain_state(machine.domain) is not DomainState.SHUTOFF:
            driver.destroy_domain(machine.domain)
        driver.undefine_domain(machine.domain)
    for net in made.all_networks:
        if driver.network_active(net.libvirt_name):
            driver.destroy_network(net.libvirt_name)
        driver.undefine_network(net.libvirt_name)


@pytest.fixture
def plan(driver: Driver, unique: str, tmp_path: Path) -> Iterator[LabPlan]:
    made = plan_lab(
        load_profile(PROFILE), "boot", f"hl-t{unique}-", tmp_path, IPv4Network("10.251.9.0/24")
    )
    yield define(driver, made)
    remove(driver, made)


def test_boots_hold_their_slot_until_ready(driver: Driver, plan: LabPlan) -> None:
    booting = Booting()
    lines: list[str] = []

    def ready(machine: MachinePlan) -> None:
        # Started before it is waited for, and counted as booting until ready.
        assert driver.domain_state(machine.domain) is DomainState.RUNNING
        booting.hold(machine.name, 0.05)

    deployment.boot(driver, plan, 2, ready, lambda s, m: lines.append(f"{s}: {m}"))
    assert booting.most == 2
    assert all(driver.domain_state(m.domain) is DomainState.RUNNING for m in plan.machines)
    assert all(driver.network_active(n.libvirt_name) for n in plan.all_networks)
    assert f"lab: booting {len(plan.machines)} machines, 2 at a time" in lines


def test_a_failed_boot_fails_the_whole_and_the_others_still_finish(
    driver: Driver, plan: LabPlan
) -> None:
    done: list[str] = []

    def ready(machine: MachinePlan) -> None:
        if machine.name == "mail":
            raise LabError("mail did not come up", hint="look at its console")
        done.append(machine.name)

    with pytest.raises(LabError, match="mail did not come up"):
        deployment.boot(driver, plan, 2, ready, lambda s, m: None)
    assert sorted(done) == sorted(m.name for m in plan.machines if m.name != "mail")


@pytest.mark.parametrize(
    ("setting", "virt", "cores", "slots"),
    [
        (0, VirtType.QEMU, 2, 2),  # TCG: as many as cores
        (0, VirtType.QEMU, 1, 1),
        (0, VirtType.KVM, 2, 16),  # KVM: boots barely load the host
        (3, VirtType.QEMU, 2, 3),  # LAB_BOOT_PARALLEL as it is
        (1, VirtType.KVM, 8, 1),
    ],
)
def test_boot_slots(setting: int, virt: VirtType, cores: int, slots: int) -> None:
    assert deployment.boot_slots(setting, virt, cores) == slots


def test_labs_booting_side_by_side_share_the_hosts_slots(
    driver: Driver, unique: str, tmp_path: Path
) -> None:
    """Two labs (two seats of a class) booting at once never boot more machines together
    than the host has slots: the slots are the host's, not each lab's."""
    plans = [
        plan_lab(
            load_profile(PROFILE),
            seat,
            f"hl-t{unique}{seat}-",
            tmp_path / seat,
            IPv4Network("10.251.8.0/24"),
        )
        for seat in ("s1", "s2")
    ]
    booting = Booting()
    waited: list[str] = []

    def progress(subject: str, message: str) -> None:
        if message.startswith("waiting"):
            waited.append(subject)

    def ready(machine: MachinePlan) -> None:
        booting.hold(machine.domain, 0.1)

    def boot(made: LabPlan) -> None:
        deployment.boot(driver, made, 2, ready, progress, tmp_path / "slots")

    try:
        threads = [threading.Thread(target=boot, args=(define(driver, p),)) for p in plans]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert booting.most == 2  # each lab alone would have booted 2 at a time: 4 together
        assert waited  # and a machine that waited said so
        assert all(
            driver.domain_state(m.domain) is DomainState.RUNNING for p in plans for m in p.machines
        )
    finally:
        for made in plans:
            remove(driver, made)
