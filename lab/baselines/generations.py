"""Baselines: a lab's captured clean state, and putting a machine back to it.

A baseline is a *generation* directory `labs/LAB/baselines/GEN/` holding, per machine,
the frozen disk layer `M.qcow2` (read-only, backed by the base image) and, for a
machine that was running, its memory state `M.sav`. `current.json` names the
generation in force; it is replaced atomically only once a capture is complete,
so a failed or killed capture leaves the previous baseline in force and intact.
Generation files are never written after capture: a reset only ever makes a fresh
thin overlay over them.

A *checkpoint* is a further generation of the same kind recorded under a name
(`after-task-2`) in `checkpoints/NAME.json` instead of in `current.json`: a reset can go
to it instead of to the baseline. Generations named by a checkpoint are kept like the one
in force, and are never taken for what a killed capture left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.baselines.records import CHECKPOINT_NAME, CHECKPOINT_RULE
from lab.commands import run
from lab.driver.connection import DomainState, Driver
from lab.errors import InvalidError, LabError, quote
from lab.labs.plan import LabPlan, MachinePlan

_CURRENT = "current.json"
_CHECKPOINTS = "checkpoints"  # beside the generations: never one of them


class Baseline(BaseModel):
    """A captured generation: the baseline in force (`name` None) or a named checkpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generation: str
    created_at: datetime
    memory: tuple[str, ...]  # machines whose memory state was captured
    name: str | None = None  # the checkpoint's name; None for the baseline
    # The template whose state this is (a lab cloned from it, before its own baseline):
    # its files are the template's, and a machine restored from them takes the lab's own
    # address, keys and passwords at once (lab.templates.identity).
    template: str | None = None

    def directory(self, plan: LabPlan) -> Path:
        return baselines_dir(plan) / self.generation

    def disk(self, plan: LabPlan, layer: str) -> Path:
        """A frozen disk layer: `layer` is a machine's name (its first disk) or the
        layer name of an appliance's further disk (MACHINE.diskN)."""
        return self.directory(plan) / f"{layer}.qcow2"

    def memory_state(self, plan: LabPlan, machine: str) -> Path:
        return self.directory(plan) / f"{machine}.sav"

    def nvram(self, plan: LabPlan, machine: str) -> Path:
        """The UEFI variable store of a UEFI machine as it was at the capture."""
        return self.directory(plan) / f"{machine}.fd"


def baselines_dir(plan: LabPlan) -> Path:
    return plan.directory / "baselines"


def check_checkpoint_name(name: str) -> str:
    """The name, or InvalidError: it becomes a file name and a word in URLs."""
    if not CHECKPOINT_NAME.fullmatch(name):
        raise InvalidError(f"{quote(name)} is not a checkpoint name", hint=CHECKPOINT_RULE)
    return name


def checkpoints(plan: LabPlan) -> dict[str, Baseline]:
    """The lab's checkpoints by name, in name order."""
    root = baselines_dir(plan) / _CHECKPOINTS
    if not root.is_dir():
        return {}
    found = {}
    for path in sorted(root.glob("*.json")):
        if CHECKPOINT_NAME.fullmatch(path.stem):
            found[path.stem] = Baseline.model_validate_json(path.read_text())
    return found


def checkpoint(plan: LabPlan, name: str) -> Baseline | None:
    """The checkpoint `name` of the lab, or None when it has none of that name."""
    path = baselines_dir(plan) / _CHECKPOINTS / f"{check_checkpoint_name(name)}.json"
    if not path.exists():
        return None
    return Baseline.model_validate_json(path.read_text())


def forget_checkpoint(plan: LabPlan, name: str) -> bool:
    """Drop the checkpoint's name (its generation goes at the next prune, once no disk
    sits on it); whether there was one."""
    path = baselines_dir(plan) / _CHECKPOINTS / f"{check_checkpoint_name(name)}.json"
    if not path.exists():
        return False
    path.unlink()
    return True


def size_on_disk(plan: LabPlan, baseline: Baseline) -> int:
    """Bytes a generation takes on its file system (layers, memory states, NVRAM)."""
    total = 0
    try:
        for path in baseline.directory(plan).iterdir():
            total += path.stat().st_blocks * 512
    except FileNotFoundError:  # pruned meanwhile
        return 0
    return total


def _generations(plan: LabPlan) -> list[Path]:
    """Every generation directory of the lab (whatever names it, or nothing)."""
    root = baselines_dir(plan)
    if not root.is_dir():
        return []
    return [g for g in root.iterdir() if g.is_dir() and g.name != _CHECKPOINTS]


def _named(plan: LabPlan) -> set[str]:
    """The generations something names: the baseline in force and every checkpoint."""
    named = {b.generation for b in checkpoints(plan).values()}
    if (in_force := current(plan)) is not None:
        named.add(in_force.generation)
    return named


def current(plan: LabPlan) -> Baseline | None:
    """The baseline in force, or None when the lab has none."""
    path = baselines_dir(plan) / _CURRENT
    if not path.exists():
        return None
    return Baseline.model_validate_json(path.read_text())


def capture(
    driver: Driver,
    plan: LabPlan,
    base_disks: dict[str, Path],
    *,
    checkpoint: str | None = None,
) -> Baseline:
    """Freeze every machine's disk and memory into a new generation, then put it in force,
    or (with `checkpoint`) record it under that name, replacing a checkpoint of that name.

    Each running machine is saved (it stops), its overlay becomes the frozen layer,
    a fresh overlay is made over it, and the machine is restored from the saved state:
    it runs on, unaware, from the very instant of the capture.
    """
    if checkpoint is not None:
        check_checkpoint_name(checkpoint)
    generation = new_generation()
    gdir = baselines_dir(plan) / generation
    gdir.mkdir(parents=True)
    gdir.chmod(0o755)
    memory: list[str] = []
    try:
        for machine in plan.machines:
            if _capture_machine(driver, plan, machine, gdir, base_disks):
                memory.append(machine.name)
    except BaseException:
        _resume_saved(driver, plan, gdir)
        prune(plan)  # the unfinished generation, unless a machine's disk now sits on it
        raise
    baseline = put_in_force(plan, generation, memory, checkpoint)
    prune(plan)  # the generation a replaced checkpoint named, once no disk sits on it
    return baseline


def new_generation() -> str:
    """A generation's name: when it was captured, and enough to tell two apart."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def put_in_force(
    plan: LabPlan, generation: str, memory: list[str], checkpoint: str | None
) -> Baseline:
    """Record a complete generation (`memory`: the machines whose memory it holds) as the
    baseline in force, or under the name `checkpoint` (replacing one of that name).
    Atomic: until this, the previous one holds."""
    baseline = Baseline(
        generation=generation,
        created_at=datetime.now(UTC),
        memory=tuple(memory),
        name=checkpoint,
    )
    if baseline.name is None:
        _write_atomically(baselines_dir(plan) / _CURRENT, baseline)
    else:
        _write_atomically(baselines_dir(plan) / _CHECKPOINTS / f"{baseline.name}.json", baseline)
    return baseline


def named(plan: LabPlan) -> set[str]:
    """The generations something names: the baseline in force and every checkpoint."""
    return _named(plan)


def from_template(
    plan: LabPlan,
    template: str,
    files: dict[str, Path],
    memory: tuple[str, ...],
    created_at: datetime,
) -> Baseline:
    """Put a template's state in force as the baseline of a lab cloned from it: a
    generation whose files (`files`: file name in the generation -> the template's file)
    are links to the template's, so resetting the clone goes back to the template's state."""
    generation = f"template-{template}"
    gdir = baselines_dir(plan) / generation
    gdir.mkdir(parents=True, exist_ok=True)
    gdir.chmod(0o755)
    for name, target in files.items():
        link = gdir / name
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return template_in_force(plan, template, memory, created_at)


def template_in_force(
    plan: LabPlan, template: str, memory: tuple[str, ...], created_at: datetime
) -> Baseline:
    """Record the state of template `template` as the baseline in force of a lab cloned
    from it, its files in place already (here: `from_template`; on a lab server:
    lab.templates.on_server)."""
    baseline = Baseline(
        generation=f"template-{template}", created_at=created_at, memory=memory, template=template
    )
    _write_atomically(baselines_dir(plan) / _CURRENT, baseline)
    return baseline


def _capture_machine(
    driver: Driver, plan: LabPlan, machine: MachinePlan, gdir: Path, base_disks: dict[str, Path]
) -> bool:
    state = driver.domain_state(machine.domain)
    running = state in (DomainState.RUNNING, DomainState.PAUSED)
    saved = gdir / f"{machine.name}.sav"
    if running:
        # The frozen layer must also boot on its own (a cold reset): flush what the
        # guest still holds in its page cache, or files written recently are empty there.
        driver.flush_guest_disks(machine.domain)
        driver.save_domain(machine.domain, saved)
    if machine.nvram is not None and machine.nvram.exists():
        # The firmware's variables (boot entries) belong to the state: a reset puts them back.
        shutil.copyfile(machine.nvram, gdir / f"{machine.name}.fd")
        (gdir / f"{machine.name}.fd").chmod(0o444)
    for layer, overlay in machine.layers:
        frozen = gdir / f"{layer}.qcow2"
        os.replace(overlay, frozen)
        # A second baseline's layer sits on the first one: fold that in, so every
        # generation stands alone on the base image and older ones can be deleted.
        base = base_disks[layer]
        if _backing(frozen) != base:
            run(["qemu-img", "rebase", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, frozen])
        frozen.chmod(0o444)
        new_overlay(frozen, overlay)
    if running:
        driver.restore_domain(saved, machine.domain)
    return running


def fresh_overlays(plan: LabPlan, machine: MachinePlan, baseline: Baseline) -> None:
    """A fresh overlay over the baseline's frozen layer, for each disk of the machine."""
    for layer, overlay in machine.layers:
        new_overlay(baseline.disk(plan, layer), overlay)


def restore_nvram(plan: LabPlan, machine: MachinePlan, baseline: Baseline | None) -> None:
    """Put a UEFI machine's variable store back to the baseline's (the machine is off).
    Without a captured one it goes, and libvirt makes it afresh from the template."""
    if machine.nvram is None:
        return
    saved = baseline.nvram(plan, machine.name) if baseline is not None else None
    if saved is not None and saved.exists():
        staged = machine.nvram.with_name(machine.nvram.name + ".new")
        shutil.copyfile(saved, staged)
        staged.chmod(0o600)
        os.replace(staged, machine.nvram)
    else:
        machine.nvram.unlink(missing_ok=True)


def new_overlay(backing: Path, overlay: Path) -> None:
    """A fresh, empty qcow2 layer at `overlay` over `backing` (replacing any old one)."""
    staged = overlay.with_name(overlay.name + ".new")
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", backing, staged])
    os.replace(staged, overlay)


def _resume_saved(driver: Driver, plan: LabPlan, gdir: Path) -> None:
    """After a failed capture: restart machines left saved, so the lab runs on."""
    for machine in plan.machines:
        saved = gdir / f"{machine.name}.sav"
        if not saved.exists() or not driver.domain_exists(machine.domain):
            continue
        if driver.domain_state(machine.domain) is not DomainState.SHUTOFF:
            continue
        for layer, overlay in machine.layers:
            if not overlay.exists():
                # The overlay was moved into the new layer already: run on top of that.
                new_overlay(gdir / f"{layer}.qcow2", overlay)
        try:
            driver.restore_domain(saved, machine.domain)
        except LabError:
            continue  # the next reset (cold, if need be) brings it back


def recover(driver: Driver, plan: LabPlan, *, running: bool) -> list[str]:
    """Put a lab back in working order after a capture or reset was killed half-way.

    A kill can leave a staged overlay (`*.qcow2.new`), an overlay already moved into a
    new generation's frozen layer, a machine saved (stopped) by a capture or destroyed
    by a reset, and a generation that never came into force. With `running` (the lab is
    recorded as running) every stopped machine runs again: resumed from the interrupted
    capture's saved state when its disk is still that state's, else restored to the
    baseline in force, else booted. A checkpoint's generation is never taken for an
    interrupted capture. Generations neither in force, nor a checkpoint's, nor under an
    overlay go. Returns what was done, one line each.
    """
    done: list[str] = []
    in_force = current(plan)
    for machine in plan.machines:
        for _, overlay in machine.layers:
            staged = overlay.with_name(overlay.name + ".new")
            if staged.exists():
                staged.unlink()
                done.append(f"removed the half-made {staged.name}")
        # A save or restore job a killed client had started: let libvirt finish it.
        driver.wait_state(machine.domain, {DomainState.RUNNING, DomainState.SHUTOFF}, 30.0)
        interrupted = _interrupted_generation(plan, machine, in_force)
        for name, overlay in machine.layers:
            if not overlay.exists():
                layer = _layer_for(plan, machine, name, interrupted, in_force)
                new_overlay(layer, overlay)
                done.append(f"{name}: a fresh overlay over {layer.parent.name}/{layer.name}")
        if running and driver.domain_state(machine.domain) is DomainState.SHUTOFF:
            done.append(f"{machine.name}: " + _bring_back(driver, plan, machine, interrupted))
    done += [f"removed the incomplete baseline generation {g}" for g in prune(plan)]
    return done


def _interrupted_generation(
    plan: LabPlan, machine: MachinePlan, in_force: Baseline | None
) -> Path | None:
    """The newest generation that nothing names (neither in force nor a checkpoint's)
    and that holds something of `machine`: what a killed capture left."""
    named = {b.generation for b in checkpoints(plan).values()}
    if in_force is not None:
        named.add(in_force.generation)
    found = [
        g
        for g in _generations(plan)
        if g.name not in named
        and any((g / f"{machine.name}{ext}").exists() for ext in (".sav", ".qcow2"))
    ]
    return max(found, key=lambda g: g.name) if found else None


def _layer_for(
    plan: LabPlan,
    machine: MachinePlan,
    layer: str,
    interrupted: Path | None,
    in_force: Baseline | None,
) -> Path:
    """What a disk whose overlay is gone (moved into a frozen layer) runs on."""
    if interrupted is not None and (interrupted / f"{layer}.qcow2").exists():
        return interrupted / f"{layer}.qcow2"
    if in_force is not None and in_force.disk(plan, layer).exists():
        return in_force.disk(plan, layer)
    raise LabError(
        f"machine '{machine.name}' of lab '{plan.lab}' has lost its disk overlay",
        hint=f"remove the lab and bring it up again: lab down {plan.lab}",
    )


def _bring_back(
    driver: Driver, plan: LabPlan, machine: MachinePlan, interrupted: Path | None
) -> str:
    """Run a stopped machine again; say how."""
    in_force = current(plan)
    saved = interrupted / f"{machine.name}.sav" if interrupted else None
    try:
        if saved is not None and saved.exists() and _disk_is_of(machine, saved.parent):
            driver.restore_domain(saved, machine.domain)
            return "resumed from the interrupted baseline capture"
        if in_force is not None and in_force.template is not None:
            # A clone at its template's state: that memory is another domain's, restored
            # only with the clone's identity (lab.templates), which a reset gives.
            fresh_overlays(plan, machine, in_force)
            restore_nvram(plan, machine, in_force)
            driver.start_domain(machine.domain)
            return (
                f"booted from template {in_force.template}'s disk; reset the lab to give it"
                " its own passwords and keys again"
            )
        if in_force is not None and machine.name in in_force.memory:
            fresh_overlays(plan, machine, in_force)
            restore_nvram(plan, machine, in_force)
            driver.restore_domain(in_force.memory_state(plan, machine.name), machine.domain)
            return f"restored to its baseline {in_force.generation}"
    except LabError as exc:
        if in_force is not None:
            fresh_overlays(plan, machine, in_force)
        driver.start_domain(machine.domain)
        return f"memory restore failed ({exc.message.splitlines()[0]}): booting"
    driver.start_domain(machine.domain)
    return "booting"


def _disk_is_of(machine: MachinePlan, gdir: Path) -> bool:
    """Whether the machine's disk is still what it was when it was saved into `gdir`:
    untouched (not yet frozen), or a fresh overlay over that generation's frozen layer."""
    frozen = gdir / f"{machine.name}.qcow2"
    return not frozen.exists() or _backing(machine.overlay) == frozen


def _write_atomically(path: Path, baseline: Baseline) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".new")
    staged.write_text(baseline.model_dump_json())
    os.replace(staged, path)


def prune(plan: LabPlan) -> list[str]:
    """Delete generations that are neither in force, nor a checkpoint's, nor under a
    machine's overlay."""
    generations = _generations(plan)
    if not generations:
        return []
    keep = _named(plan)
    for machine in plan.machines:
        for _, overlay in machine.layers:
            if overlay.exists() and (backing := _backing(overlay)) is not None:
                keep.add(backing.parent.name)
    removed = []
    for gdir in generations:
        if gdir.name not in keep:
            shutil.rmtree(gdir)
            removed.append(gdir.name)
    return removed


def _backing(image: Path) -> Path | None:
    info = json.loads(run(["qemu-img", "info", "--output=json", "-U", image]).stdout)
    name = info.get("full-backing-filename") or info.get("backing-filename")
    return Path(name) if name else None
