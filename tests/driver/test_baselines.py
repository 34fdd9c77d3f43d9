"""Baselines against libvirt's test driver (its real save and restore, no hypervisor) and
real qcow2 layers made by qemu-img: a capture freezes every machine's disk and memory into
a generation and only then puts it in force; `recover` puts a lab whose capture or reset
was killed half-way back in working order; the reset mode follows what the baseline holds.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.baselines import generations
from lab.baselines.records import ResetMode
from lab.baselines.resets import choose_mode, reset_target
from lab.driver.connection import DomainState, Driver
from lab.driver.domain_xml import domain_xml
from lab.labs.plan import LabPlan, plan_lab
from lab.profile import load_profile
from tests.driver.test_connection import spec

pytestmark = pytest.mark.driver

PROFILE = Path(__file__).parents[2] / "profiles" / "pair.yaml"


def backing(image: Path) -> Path | None:
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", "-U", image],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    name = info.get("full-backing-filename") or info.get("backing-filename")
    return Path(name) if name else None


@pytest.fixture
def base(tmp_path: Path) -> Path:
    disk = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    return disk


@pytest.fixture
def plan(driver: Driver, unique: str, tmp_path: Path, base: Path) -> Iterator[LabPlan]:
    """Lab `bl` of profiles/pair.yaml (machines a and b), running on the test driver, each
    machine's overlay a real qcow2 layer over `base`."""
    made = plan_lab(
        load_profile(PROFILE), "bl", f"hl-t{unique}-", tmp_path, IPv4Network("10.251.10.0/24")
    )
    yield from running(driver, made, base)


def running(driver: Driver, made: LabPlan, base: Path) -> Iterator[LabPlan]:
    """The lab's machines running on the test driver, each overlay a real qcow2 layer over
    `base`, while the caller holds it; gone after."""
    for machine in made.machines:
        machine.overlay.parent.mkdir(parents=True, exist_ok=True)
        generations.new_overlay(base, machine.overlay)
        driver.define_domain(domain_xml(spec(machine.domain)))
        driver.start_domain(machine.domain)
    yield made
    for machine in made.machines:
        if driver.domain_exists(machine.domain):
            if driver.domain_state(machine.domain) is not DomainState.SHUTOFF:
                driver.destroy_domain(machine.domain)
            driver.undefine_domain(machine.domain)


def bases(plan: LabPlan, base: Path) -> dict[str, Path]:
    return {m.name: base for m in plan.machines}


def test_capture_freezes_disks_and_memory_then_puts_the_generation_in_force(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    assert generations.current(plan) is None
    taken = generations.capture(driver, plan, bases(plan, base))
    assert generations.current(plan) == taken
    assert taken.memory == ("a", "b")
    for machine in plan.machines:
        frozen = taken.disk(plan, machine.name)
        assert frozen.stat().st_mode & 0o777 == 0o444
        assert backing(frozen) == base
        assert backing(machine.overlay) == frozen  # a fresh, empty layer over it
        assert taken.memory_state(plan, machine.name).is_file()
        assert driver.domain_state(machine.domain) is DomainState.RUNNING
    assert choose_mode(plan, False, reset_target(plan, None)) == (ResetMode.MEMORY, "")


def test_a_second_generation_stands_alone_and_the_first_goes(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    first = generations.capture(driver, plan, bases(plan, base))
    second = generations.capture(driver, plan, bases(plan, base))
    assert generations.current(plan) == second != first
    for machine in plan.machines:
        assert backing(second.disk(plan, machine.name)) == base  # rebased off the first
    assert not first.directory(plan).exists()


def test_reset_mode_follows_what_the_baseline_holds(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    mode, note = choose_mode(plan, False, reset_target(plan, None))
    assert mode is ResetMode.COLD and "no baseline yet" in note
    driver.destroy_domain(plan.machines[1].domain)  # b is stopped: no memory to save
    taken = generations.capture(driver, plan, bases(plan, base))
    assert taken.memory == ("a",)
    mode, note = choose_mode(plan, False, reset_target(plan, None))
    assert mode is ResetMode.COLD and "no memory state for b" in note
    assert choose_mode(plan, True, reset_target(plan, None)) == (
        ResetMode.COLD,
        "cold reset as asked",
    )


def test_recover_resumes_a_machine_a_killed_capture_left_saved(
    driver: Driver, plan: LabPlan
) -> None:
    # Killed right after machine a was saved and its overlay moved into the new layer:
    # no current.json written, a stopped, no overlay.
    a = plan.machines[0]
    gdir = generations.baselines_dir(plan) / "20260101T000000-killed"
    gdir.mkdir(parents=True)
    driver.save_domain(a.domain, gdir / "a.sav")
    os.replace(a.overlay, gdir / "a.qcow2")
    done = generations.recover(driver, plan, running=True)
    assert any("a: a fresh overlay over" in line for line in done), done
    assert "a: resumed from the interrupted baseline capture" in done, done
    assert driver.domain_state(a.domain) is DomainState.RUNNING
    assert backing(a.overlay) == gdir / "a.qcow2"
    assert gdir.is_dir()  # a runs on its layer: the generation stays
    assert generations.current(plan) is None


def test_recover_after_a_killed_reset_restores_to_the_baseline_and_tidies(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    taken = generations.capture(driver, plan, bases(plan, base))
    b = plan.machines[1]
    # Killed during a reset of b: b destroyed, its new overlay half-made.
    driver.destroy_domain(b.domain)
    staged = b.overlay.with_name(b.overlay.name + ".new")
    staged.write_bytes(b"half")
    orphan = generations.baselines_dir(plan) / "20260101T000000-orphan"
    orphan.mkdir()
    done = generations.recover(driver, plan, running=True)
    assert f"removed the half-made {staged.name}" in done, done
    assert f"b: restored to its baseline {taken.generation}" in done, done
    assert "removed the incomplete baseline generation 20260101T000000-orphan" in done, done
    assert driver.domain_state(b.domain) is DomainState.RUNNING
    assert backing(b.overlay) == taken.disk(plan, "b")
    assert generations.current(plan) == taken


def test_recover_of_a_lab_recorded_stopped_leaves_its_machines_stopped(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    generations.capture(driver, plan, bases(plan, base))
    for machine in plan.machines:
        driver.destroy_domain(machine.domain)
    assert generations.recover(driver, plan, running=False) == []
    assert all(driver.domain_state(m.domain) is DomainState.SHUTOFF for m in plan.machines)


APPLIANCE_WITH_TWO_DISKS = """\
community: {name: t, title: "Т", oblast: "Київська", kind: rural}
networks: [{name: office, cidr: 10.20.0.0/24}]
machines:
  - name: ws
    image: debian-12
    memory: 512MiB
    nics: [{network: office}]
  - name: box
    image: vendor-box
    memory: 512MiB
    appliance: {extra_disks: [vendor-box-disk2]}
    nics: [{network: office, address: 10.20.0.50}]
"""


def test_every_disk_of_an_appliance_is_frozen_and_comes_back(
    driver: Driver, unique: str, tmp_path: Path, base: Path
) -> None:
    from lab.profile import load_profile_text

    made = plan_lab(
        load_profile_text(APPLIANCE_WITH_TWO_DISKS, "t.yaml"),
        "md",
        f"hl-t{unique}-",
        tmp_path,
        IPv4Network("10.251.11.0/24"),
    )
    box = made.machine("box")
    assert [layer for layer, _ in box.layers] == ["box", "box.disk2"]
    for machine in made.machines:
        for _, overlay in machine.layers:
            overlay.parent.mkdir(parents=True, exist_ok=True)
            generations.new_overlay(base, overlay)
        driver.define_domain(domain_xml(spec(machine.domain)))
        driver.start_domain(machine.domain)
    layers = {layer: base for m in made.machines for layer, _ in m.layers}
    try:
        first = generations.capture(driver, made, layers)
        second = generations.capture(driver, made, layers)
        for layer, overlay in box.layers:
            assert backing(second.disk(made, layer)) == base  # stands alone
            assert backing(overlay) == second.disk(made, layer)
        assert not first.directory(made).exists()
        # Killed during a capture once the second disk's overlay had been moved away.
        box.extra_disks[0].overlay.unlink()
        done = generations.recover(driver, made, running=True)
        assert any(line.startswith("box.disk2: a fresh overlay over") for line in done), done
        assert backing(box.extra_disks[0].overlay) == second.disk(made, "box.disk2")
        generations.fresh_overlays(made, box, second)  # what a memory reset does
        assert backing(box.extra_disks[0].overlay) == second.disk(made, "box.disk2")
    finally:
        for machine in made.machines:
            if driver.domain_state(machine.domain) is not DomainState.SHUTOFF:
                driver.destroy_domain(machine.domain)
            driver.undefine_domain(machine.domain)
