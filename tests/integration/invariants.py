"""What must hold for a lab after a fault and `lab reconcile`: fully present or fully gone.

Each check returns the problems it found (empty: the invariant holds), so a fault test
can record what was lost before it asserts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.baselines import generations
from lab.driver.connection import DomainState, Driver
from lab.labs import lifecycle
from lab.labs.locks import is_locked
from lab.labs.records import LabRecord, LabStatus
from lab.settings import Settings


def lab_outcome(settings: Settings, lab: str) -> tuple[str, list[str]]:
    """("present" | "gone", problems): which whole the lab is, and what breaks it."""
    record = next((r for r in lifecycle.list_labs(settings) if r.name == lab), None)
    if record is None:
        return "gone", _leftovers(settings, lab)
    return "present", present_problems(settings, record)


def _leftovers(settings: Settings, lab: str) -> list[str]:
    with Driver.open(settings.libvirt_uri) as driver:
        found = [
            f"libvirt object {n}"
            for n in driver.list_domains(settings.prefix) + driver.list_networks(settings.prefix)
            if n.startswith(f"{settings.prefix}{lab}.")
        ]
    if (settings.labs_dir / lab).exists():
        found.append(f"directory {settings.labs_dir / lab} (overlays, seeds, keys)")
    if is_locked(settings, lab):
        found.append(f"lock of {lab} still held")
    return [f"{lab} is gone but left: {f}" for f in found]


def present_problems(settings: Settings, record: LabRecord) -> list[str]:
    """A recorded lab: every domain, network, overlay, key there, running as recorded."""
    plan = record.plan
    problems: list[str] = []
    if record.status not in (LabStatus.RUNNING, LabStatus.STOPPED):
        problems.append(f"recorded as {record.status}")
    wanted = DomainState.RUNNING if record.status is LabStatus.RUNNING else DomainState.SHUTOFF
    with Driver.open(settings.libvirt_uri) as driver:
        for m in plan.machines:
            if not driver.domain_exists(m.domain):
                problems.append(f"domain {m.domain} missing")
            elif (state := driver.domain_state(m.domain)) is not wanted:
                problems.append(f"domain {m.domain} is {state}, recorded {record.status}")
        for n in plan.all_networks:
            if not driver.network_active(n.libvirt_name):
                problems.append(f"network {n.libvirt_name} missing or inactive")
        ours = set(driver.list_domains(settings.prefix) + driver.list_networks(settings.prefix))
    expected = {m.domain for m in plan.machines} | {n.libvirt_name for n in plan.all_networks}
    problems += [
        f"stray libvirt object {n}"
        for n in ours - expected
        if n.startswith(f"{settings.prefix}{plan.lab}.")
    ]
    disks = plan.directory / "disks"
    wanted_files = {overlay.name for m in plan.machines for _, overlay in m.layers}
    wanted_files |= {m.seed.name for m in plan.machines if m.seed is not None}
    have = {p.name for p in disks.iterdir()} if disks.is_dir() else set()
    problems += [f"missing disk file {f}" for f in sorted(wanted_files - have)]
    problems += [f"stray disk file {f}" for f in sorted(have - wanted_files)]
    if not (plan.keys_dir / "id_ed25519").exists():
        problems.append("lab key missing")
    problems += baseline_problems(record)
    return [f"{record.name}: {p}" for p in problems]


def baseline_problems(record: LabRecord) -> list[str]:
    """The baseline in force is whole, and no generation lingers that nothing uses (a
    checkpoint's generation is named by it)."""
    plan = record.plan
    current = generations.current(plan)
    root = generations.baselines_dir(plan)
    on_disk = {g.name for g in root.iterdir() if g.is_dir()} if root.is_dir() else set()
    on_disk -= {"checkpoints"} | {c.generation for c in generations.checkpoints(plan).values()}
    if current is None:
        return [f"baseline generation {g} without a baseline in force" for g in on_disk]
    problems = []
    for m in plan.machines:
        for layer, _ in m.layers:
            if not current.disk(plan, layer).is_file():
                problems.append(f"baseline {current.generation}: disk layer {layer} missing")
        if m.name in current.memory and not current.memory_state(plan, m.name).is_file():
            problems.append(f"baseline {current.generation}: memory state of {m.name} missing")
    # At most one other generation may stay: the one a machine still runs on until its
    # next reset (a capture interrupted after its machine was resumed on top of it).
    if len(on_disk - {current.generation}) > 1:
        problems.append(f"baseline generations pile up: {sorted(on_disk)}")
    return problems


def digests(directory: Path) -> dict[str, str]:
    """sha256 of every file of a baseline generation."""
    result = {}
    for path in sorted(directory.iterdir()):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        result[path.name] = digest.hexdigest()
    return result
