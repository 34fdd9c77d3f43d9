"""Baselines of a lab on another server: the same generations, kept as volumes there.

A lab on a lab server (lab.host) has its files in that server's pool, made and removed
through libvirt alone, which renames no volume. So a generation's files there are new
volumes named after the machine's domain and the generation: `DOMAIN.GEN.qcow2`, the
frozen disk, a copy the server makes of the machine's disk as it was (its backing file
folded in, so it stands alone on the server), `DOMAIN.GEN.sav`, its memory state, and for
an appliance `DOMAIN.GEN.diskN.qcow2`, each further disk, and `DOMAIN.GEN.nvram.fd`, its
UEFI variables. The machine's own files keep their names (`DOMAIN.qcow2`, the ones its
saved memory names): a reset makes its disks afresh over the frozen ones and copies the
variables back. What names a generation (the baseline in
force, the checkpoints) is recorded beside the lab's keys on this machine, as for a lab
here (lab.baselines.generations); a generation is in force only once all its volumes are
there, so a failed or killed capture leaves the previous one in force and intact.
"""

from __future__ import annotations

import re
from pathlib import Path

from lab.baselines import generations
from lab.baselines.generations import Baseline
from lab.driver.connection import DomainState, Driver
from lab.errors import LabError
from lab.host.images import disk_volume
from lab.host.model import POOL
from lab.labs.plan import LabPlan, MachinePlan
from lab.labs.records import LabRecord

# What follows DOMAIN. in a generation's file: its generation (a capture's time and tag,
# or `template-NAME`), then what it is. A machine's own `DOMAIN.disk2.qcow2` or
# `DOMAIN.nvram.fd` is no generation's file.
_GENERATION_FILE = re.compile(
    r"(?P<generation>\d{8}T\d{6}-[0-9a-f]{6}|template-[a-z0-9-]+)"
    r"\.(qcow2|sav|disk\d+\.qcow2|nvram\.fd)"
)


def frozen_disk(machine: MachinePlan, generation: str) -> Path:
    """The frozen disk of `machine` in `generation`, on its server."""
    return frozen(machine, machine.overlay, generation)


def frozen(machine: MachinePlan, own: Path, generation: str) -> Path:
    """The copy in `generation` of the machine's own file `own` (a disk, its variables):
    `DOMAIN.X` -> `DOMAIN.GEN.X`."""
    return own.parent / f"{machine.domain}.{generation}.{own.name[len(machine.domain) + 1 :]}"


def memory_state(machine: MachinePlan, generation: str) -> Path:
    """The memory state of `machine` in `generation`, on its server."""
    return machine.overlay.parent / f"{machine.domain}.{generation}.sav"


def server_images(record: LabRecord) -> dict[str, Path]:
    """Each disk layer's image as its server has it (lab.host.images), by layer (a
    machine's name, or MACHINE.diskN)."""
    return {
        layer: m.overlay.parent / disk_volume(record.image_digests[layer])
        for m in record.plan.machines
        for layer, _ in m.layers
    }


def capture(driver: Driver, plan: LabPlan, *, checkpoint: str | None = None) -> Baseline:
    """Freeze every machine's disk and memory into a new generation on the lab's server,
    then put it in force (or record it as `checkpoint`). Each running machine is saved
    (it stops), its disk copied into the frozen one, a fresh disk made over that, and it
    is restored: it runs on from the very instant of the capture."""
    if checkpoint is not None:
        generations.check_checkpoint_name(checkpoint)
    generation = generations.new_generation()
    memory: list[str] = []
    try:
        for machine in plan.machines:
            if _capture_machine(driver, machine, generation):
                memory.append(machine.name)
    except BaseException:
        _resume(driver, plan, generation)
        prune(driver, plan)
        raise
    baseline = generations.put_in_force(plan, generation, memory, checkpoint)
    prune(driver, plan)
    return baseline


def _capture_machine(driver: Driver, machine: MachinePlan, generation: str) -> bool:
    running = driver.domain_state(machine.domain) in (DomainState.RUNNING, DomainState.PAUSED)
    saved = memory_state(machine, generation)
    if running:
        # The frozen disk must also boot on its own (a cold reset): flush what the guest
        # still holds in its page cache first.
        driver.flush_guest_disks(machine.domain)
        driver.save_domain(machine.domain, saved)
    if machine.nvram is not None:
        driver.refresh_pool(POOL)  # libvirt made the variables file, not through the pool
        if driver.volume_path(POOL, machine.nvram.name) is not None:
            copy = frozen(machine, machine.nvram, generation)
            driver.copy_volume(POOL, copy.name, machine.nvram.name, raw=True)
    for _, own in machine.layers:
        copy = frozen(machine, own, generation)
        driver.copy_volume(POOL, copy.name, own.name)
        fresh_disk(driver, machine, own, copy)
    if running:
        driver.restore_domain(saved, machine.domain)
    return running


def fresh_disk(driver: Driver, machine: MachinePlan, own: Path, backing: Path) -> None:
    """The machine's disk `own` made afresh over `backing` (the machine is off)."""
    size = driver.volume_capacity(POOL, backing.name)
    if own == machine.overlay:
        size = max(machine.disk_bytes, size)
    driver.delete_volume(POOL, own.name)
    driver.create_overlay(POOL, own.name, size, str(backing))


def fresh_disks(driver: Driver, machine: MachinePlan, generation: str) -> None:
    """Every disk of a stopped machine made afresh over its frozen one in `generation`,
    and its UEFI variables put back as they were then (without a copy, they go: libvirt
    makes them afresh from the firmware's template)."""
    for _, own in machine.layers:
        fresh_disk(driver, machine, own, frozen(machine, own, generation))
    if machine.nvram is not None:
        driver.refresh_pool(POOL)
        driver.delete_volume(POOL, machine.nvram.name)
        copy = frozen(machine, machine.nvram, generation)
        if driver.volume_path(POOL, copy.name) is not None:
            driver.copy_volume(POOL, machine.nvram.name, copy.name, raw=True)


def memory_reset(driver: Driver, machine: MachinePlan, target: Baseline) -> None:
    """Put a stopped machine back to `target`'s disks and memory: it runs on from there."""
    fresh_disks(driver, machine, target.generation)
    driver.restore_domain(memory_state(machine, target.generation), machine.domain)


def cold_disk(
    driver: Driver, machine: MachinePlan, target: Baseline | None, images: dict[str, Path]
) -> None:
    """A stopped machine's disks made afresh over `target`'s frozen ones, or over their
    images (`images`: their copies on the server, by layer) when there is no baseline."""
    if target is not None:
        fresh_disks(driver, machine, target.generation)
        return
    for layer, own in machine.layers:
        fresh_disk(driver, machine, own, images[layer])
    if machine.nvram is not None:
        driver.refresh_pool(POOL)
        driver.delete_volume(POOL, machine.nvram.name)


def size_on_disk(driver: Driver, plan: LabPlan, baseline: Baseline) -> int:
    """Bytes a generation takes on its server (frozen disks, memory states, variables)."""
    return sum(
        driver.volume_allocation(POOL, volume)
        for volume in driver.list_volumes(POOL)
        if _generation_of(plan, volume) == baseline.generation
    )


def prune(driver: Driver, plan: LabPlan) -> list[str]:
    """Delete the lab's generation volumes that are neither in force, nor a checkpoint's,
    nor under a machine's disk."""
    keep = generations.named(plan)
    for machine in plan.machines:
        for _, own in machine.layers:
            backing = driver.volume_backing(POOL, own.name)
            if backing is not None and (found := _generation_of(plan, Path(backing).name)):
                keep.add(found)
    removed = []
    for volume in driver.list_volumes(POOL):
        found = _generation_of(plan, volume)
        if found is not None and found not in keep:
            driver.delete_volume(POOL, volume)
            removed.append(volume)
    return removed


def recover(driver: Driver, plan: LabPlan, *, running: bool, image: dict[str, Path]) -> list[str]:
    """Put a lab on a server back in working order after a capture or reset was killed
    half-way: a machine without a disk gets its disks afresh (over the baseline in force,
    else its images: `image` by layer), and with `running` every stopped machine runs again,
    restored to the baseline in force where it has the memory, else booted. Generations
    nothing names go. Returns what was done, one line each."""
    done: list[str] = []
    in_force = generations.current(plan)
    present = set(driver.list_volumes(POOL))
    for machine in plan.machines:
        driver.wait_state(machine.domain, {DomainState.RUNNING, DomainState.SHUTOFF}, 30.0)
        stopped = driver.domain_state(machine.domain) is DomainState.SHUTOFF
        if stopped and any(own.name not in present for _, own in machine.layers):
            cold_disk(driver, machine, in_force, image)
            done.append(f"{machine.name}: its disks made afresh")
        if not (running and stopped):
            continue
        try:
            if in_force is not None and machine.name in in_force.memory:
                memory_reset(driver, machine, in_force)
                done.append(f"{machine.name}: restored to its baseline {in_force.generation}")
                continue
        except LabError as exc:
            done.append(f"{machine.name}: memory restore failed ({exc.message.splitlines()[0]})")
        driver.start_domain(machine.domain)
        done.append(f"{machine.name}: booting")
    done += [f"removed the unused baseline volume {v}" for v in prune(driver, plan)]
    return done


def _resume(driver: Driver, plan: LabPlan, generation: str) -> None:
    """After a failed capture: machines left saved run on from their saved state."""
    for machine in plan.machines:
        if driver.domain_state(machine.domain) is not DomainState.SHUTOFF:
            continue
        saved = memory_state(machine, generation)
        if driver.volume_path(POOL, saved.name) is None:
            continue
        try:
            for _, own in machine.layers:
                if driver.volume_path(POOL, own.name) is None:
                    fresh_disk(driver, machine, own, frozen(machine, own, generation))
            driver.restore_domain(saved, machine.domain)
        except LabError:
            continue  # the next reset (cold, if need be) brings it back


def _generation_of(plan: LabPlan, volume: str) -> str | None:
    """The generation a volume of this lab belongs to (DOMAIN.GEN.KIND, KIND one of
    `qcow2`, `sav`, `diskN.qcow2`, `nvram.fd`); None for the machines' own files."""
    for machine in plan.machines:
        if volume.startswith(machine.domain + "."):
            found = _GENERATION_FILE.fullmatch(volume[len(machine.domain) + 1 :])
            if found:
                return found["generation"]
    return None
