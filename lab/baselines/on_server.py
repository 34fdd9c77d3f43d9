"""Baselines of a lab on another server: the same generations, kept as volumes there.

A lab on a lab server (lab.host) has its files in that server's pool, made and removed
through libvirt alone, which renames no volume. So a generation's files there are new
volumes named after the machine's domain and the generation: `DOMAIN.GEN.qcow2`, the
frozen disk, a copy the server makes of the machine's disk as it was (its backing file
folded in, so it stands alone on the server), and `DOMAIN.GEN.sav`, its memory state. The
machine's own disk keeps its name (`DOMAIN.qcow2`, the one its saved memory names): a
reset makes it afresh over the frozen disk. What names a generation (the baseline in
force, the checkpoints) is recorded beside the lab's keys on this machine, as for a lab
here (lab.baselines.generations); a generation is in force only once all its volumes are
there, so a failed or killed capture leaves the previous one in force and intact.
"""

from __future__ import annotations

from pathlib import Path

from lab.baselines import generations
from lab.baselines.generations import Baseline
from lab.driver.connection import DomainState, Driver
from lab.errors import LabError
from lab.host.images import disk_volume
from lab.host.model import POOL
from lab.labs.plan import LabPlan, MachinePlan
from lab.labs.records import LabRecord


def frozen_disk(machine: MachinePlan, generation: str) -> Path:
    """The frozen disk of `machine` in `generation`, on its server."""
    return machine.overlay.parent / f"{machine.domain}.{generation}.qcow2"


def memory_state(machine: MachinePlan, generation: str) -> Path:
    """The memory state of `machine` in `generation`, on its server."""
    return machine.overlay.parent / f"{machine.domain}.{generation}.sav"


def server_images(record: LabRecord) -> dict[str, Path]:
    """Each machine's image as its server has it (lab.host.images), by machine."""
    return {
        m.name: m.overlay.parent / disk_volume(record.image_digests[m.name])
        for m in record.plan.machines
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
    frozen = frozen_disk(machine, generation)
    driver.copy_volume(POOL, frozen.name, machine.overlay.name)
    fresh_disk(driver, machine, frozen)
    if running:
        driver.restore_domain(saved)
    return running


def fresh_disk(driver: Driver, machine: MachinePlan, backing: Path) -> None:
    """The machine's disk made afresh over `backing` (the machine is off)."""
    size = max(machine.disk_bytes, driver.volume_capacity(POOL, backing.name))
    driver.delete_volume(POOL, machine.overlay.name)
    driver.create_overlay(POOL, machine.overlay.name, size, str(backing))


def memory_reset(driver: Driver, machine: MachinePlan, target: Baseline) -> None:
    """Put a stopped machine back to `target`'s disk and memory: it runs on from there."""
    fresh_disk(driver, machine, frozen_disk(machine, target.generation))
    driver.restore_domain(memory_state(machine, target.generation))


def cold_disk(driver: Driver, machine: MachinePlan, target: Baseline | None, image: Path) -> None:
    """A stopped machine's disk made afresh over `target`'s frozen disk, or over its
    image (`image`: its copy on the server) when there is no baseline."""
    backing = frozen_disk(machine, target.generation) if target is not None else image
    fresh_disk(driver, machine, backing)


def size_on_disk(driver: Driver, plan: LabPlan, baseline: Baseline) -> int:
    """Bytes a generation takes on its server (frozen disks and memory states)."""
    return sum(
        driver.volume_allocation(POOL, path.name)
        for m in plan.machines
        for path in (frozen_disk(m, baseline.generation), memory_state(m, baseline.generation))
    )


def prune(driver: Driver, plan: LabPlan) -> list[str]:
    """Delete the lab's generation volumes that are neither in force, nor a checkpoint's,
    nor under a machine's disk."""
    keep = generations.named(plan)
    for machine in plan.machines:
        backing = driver.volume_backing(POOL, machine.overlay.name)
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
    half-way: a machine without its disk gets one afresh (over the baseline in force, else
    its image: `image` by machine), and with `running` every stopped machine runs again,
    restored to the baseline in force where it has the memory, else booted. Generations
    nothing names go. Returns what was done, one line each."""
    done: list[str] = []
    in_force = generations.current(plan)
    present = set(driver.list_volumes(POOL))
    for machine in plan.machines:
        driver.wait_state(machine.domain, {DomainState.RUNNING, DomainState.SHUTOFF}, 30.0)
        stopped = driver.domain_state(machine.domain) is DomainState.SHUTOFF
        if machine.overlay.name not in present and stopped:
            cold_disk(driver, machine, in_force, image[machine.name])
            done.append(f"{machine.name}: its disk made afresh")
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
            if driver.volume_path(POOL, machine.overlay.name) is None:
                fresh_disk(driver, machine, frozen_disk(machine, generation))
            driver.restore_domain(saved)
        except LabError:
            continue  # the next reset (cold, if need be) brings it back


def _generation_of(plan: LabPlan, volume: str) -> str | None:
    """The generation a volume of this lab belongs to (DOMAIN.GEN.qcow2 or .sav)."""
    for machine in plan.machines:
        if volume.startswith(machine.domain + "."):
            generation, dot, kind = volume[len(machine.domain) + 1 :].partition(".")
            if dot and generation and kind in ("qcow2", "sav"):
                return generation
    return None
