"""Checkpoints against libvirt's test driver and real qcow2 layers: a checkpoint is a
generation recorded under a name, beside the baseline in force, never instead of it; a
reset can go to it (memory, or cold from its layers); prune keeps it, and `recover` never
takes it for what a killed capture left.

The use cases are run whole (lock, state store, reset records) with the lab's
verification stubbed: it needs guests that answer on SSH, which the test driver has not.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.baselines import generations, resets
from lab.baselines.records import CHECKPOINT_RULE, ResetMode
from lab.baselines.resets import choose_mode, reset_target
from lab.driver.connection import DomainState, Driver
from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.images import ImageStore
from lab.labs.plan import LabPlan, MachinePlan, plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now
from tests.driver.test_baselines import PROFILE, backing, running
from tests.driver.test_boot import Booting

pytestmark = pytest.mark.driver

DIGEST = "c" * 64
LAB = "cp"


@pytest.fixture
def settings(tmp_path: Path, unique: str) -> Settings:
    return Settings(home=tmp_path / "home", libvirt_uri="test:///default", prefix=f"hl-t{unique}-")


@pytest.fixture
def base(settings: Settings) -> Path:
    """The base disk every layer of the lab sits on, where the image store keeps it."""
    disk = ImageStore(settings).disk_of(DIGEST)
    disk.parent.mkdir(parents=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "16M"], check=True)
    return disk


@pytest.fixture
def plan(driver: Driver, settings: Settings, base: Path) -> Iterator[LabPlan]:
    """Lab `cp` of profiles/pair.yaml (machines a and b), recorded running in the state
    store and running on the test driver, each overlay a real qcow2 layer over `base`."""
    made = plan_lab(
        load_profile(PROFILE),
        LAB,
        settings.prefix,
        settings.labs_dir,
        IPv4Network("10.251.12.0/24"),
    )
    stamp = now()
    StateStore.open(settings).add_lab(
        LabRecord(
            name=LAB,
            profile="pair",
            profile_path=str(PROFILE),
            status=LabStatus.RUNNING,
            plan=made,
            image_digests={layer: DIGEST for m in made.machines for layer, _ in m.layers},
            created_at=stamp,
            updated_at=stamp,
        )
    )
    yield from running(driver, made, base)


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The memory states the use cases restore, in order; their verification (and a cold
    boot's wait for SSH) stubbed."""
    seen: list[Path] = []
    original = Driver.restore_domain

    def restore(self: Driver, path: Path, domain: str) -> None:
        seen.append(Path(path))
        original(self, path, domain)

    monkeypatch.setattr(Driver, "restore_domain", restore)
    monkeypatch.setattr(resets, "_verify", lambda *_args, **_kwargs: None)
    monkeypatch.setattr(resets, "_booted", lambda *_args: None)
    return seen


def bases(plan: LabPlan, base: Path) -> dict[str, Path]:
    return {m.name: base for m in plan.machines}


def test_a_checkpoint_is_recorded_by_name_and_the_baseline_stays_in_force(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    baseline = generations.capture(driver, plan, bases(plan, base))
    taken = generations.capture(driver, plan, bases(plan, base), checkpoint="after-task-1")
    assert taken.name == "after-task-1" and taken.memory == ("a", "b")
    assert generations.current(plan) == baseline
    assert generations.checkpoints(plan) == {"after-task-1": taken}
    assert generations.checkpoint(plan, "after-task-1") == taken
    assert generations.checkpoint(plan, "other") is None
    for machine in plan.machines:
        assert backing(taken.disk(plan, machine.name)) == base  # stands alone
        assert backing(machine.overlay) == taken.disk(plan, machine.name)
        assert taken.memory_state(plan, machine.name).is_file()
        assert driver.domain_state(machine.domain) is DomainState.RUNNING
    assert baseline.directory(plan).is_dir()
    assert choose_mode(plan, False, reset_target(plan, None)) == (ResetMode.MEMORY, "")


def test_reset_to_a_checkpoint_restores_its_memory_over_fresh_layers_then_back(
    settings: Settings, driver: Driver, plan: LabPlan, restored: list[Path]
) -> None:
    resets_state = StateStore.open(settings)
    lab = resets_state.get_lab(LAB)
    first = generations.capture(driver, plan, resets.base_disks(settings, lab))
    taken = resets.checkpoint(settings, LAB, "after-task-1")
    assert generations.current(plan) == first
    a = plan.machines[0]
    a.overlay.write_bytes(b"changed after the checkpoint")  # a trainee's later work
    restored.clear()

    done = resets.reset(settings, LAB, to="after-task-1")
    assert done.ok and done.mode is ResetMode.MEMORY and done.to == "after-task-1"
    assert sorted(restored) == sorted(taken.memory_state(plan, m.name) for m in plan.machines)
    for machine in plan.machines:
        assert backing(machine.overlay) == taken.disk(plan, machine.name)  # fresh, over it
        assert driver.domain_state(machine.domain) is DomainState.RUNNING
    assert resets_state.resets(LAB, limit=1) == [done]

    again = resets.reset(settings, LAB)  # a plain reset: the baseline again
    assert again.ok and again.to is None and again.mode is ResetMode.MEMORY
    for machine in plan.machines:
        assert backing(machine.overlay) == first.disk(plan, machine.name)
    assert taken.directory(plan).is_dir()  # kept: a checkpoint names it


def test_a_cold_reset_to_a_checkpoint_boots_from_its_layers(
    settings: Settings, driver: Driver, plan: LabPlan, restored: list[Path]
) -> None:
    taken = resets.checkpoint(settings, LAB, "mid")
    restored.clear()
    done = resets.reset(settings, LAB, cold=True, to="mid")
    assert done.ok and done.mode is ResetMode.COLD and done.to == "mid"
    assert restored == []
    for machine in plan.machines:
        assert backing(machine.overlay) == taken.disk(plan, machine.name)
        assert driver.domain_state(machine.domain) is DomainState.RUNNING


def test_a_cold_reset_boots_its_machines_in_the_hosts_slots(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    base: Path,
    restored: list[Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With one boot slot, the lab's two machines boot one after the other: each holds
    the slot from its start until it answers (here: a stand-in wait of 0.2 s)."""
    generations.capture(driver, plan, bases(plan, base))
    booting = Booting()

    def booted(_settings: Settings, _plan: LabPlan, machine: MachinePlan) -> None:
        booting.hold(machine.name, 0.2)

    monkeypatch.setattr(resets, "_booted", booted)
    lines: list[str] = []
    one_slot = settings.model_copy(update={"boot_parallel": 1})
    done = resets.reset(one_slot, LAB, cold=True, progress=lambda s, m: lines.append(m))
    assert done.ok and done.mode is ResetMode.COLD
    assert booting.most == 1
    assert any(line.startswith("waiting: the host boots 1 machines") for line in lines)


def test_a_checkpoint_without_a_machine_s_memory_resets_cold_and_says_so(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    driver.destroy_domain(plan.machines[1].domain)
    generations.capture(driver, plan, bases(plan, base), checkpoint="half")
    mode, note = choose_mode(plan, False, reset_target(plan, "half"))
    assert mode is ResetMode.COLD and note == "no memory state for b in checkpoint half: cold reset"


def test_prune_keeps_checkpoint_generations(driver: Driver, plan: LabPlan, base: Path) -> None:
    taken = generations.capture(driver, plan, bases(plan, base), checkpoint="kept")
    generations.capture(driver, plan, bases(plan, base))  # the machines move off it
    for machine in plan.machines:
        assert backing(machine.overlay) != taken.disk(plan, machine.name)
    assert generations.prune(plan) == []
    assert taken.directory(plan).is_dir()
    assert generations.checkpoint(plan, "kept") == taken


def test_replacing_a_checkpoint_prunes_its_old_generation(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    old = generations.capture(driver, plan, bases(plan, base), checkpoint="step")
    new = generations.capture(driver, plan, bases(plan, base), checkpoint="step")
    assert generations.checkpoints(plan) == {"step": new} and new != old
    assert not old.directory(plan).exists()
    assert new.directory(plan).is_dir()


def test_recover_never_resumes_from_a_checkpoint(driver: Driver, plan: LabPlan, base: Path) -> None:
    baseline = generations.capture(driver, plan, bases(plan, base))
    taken = generations.capture(driver, plan, bases(plan, base), checkpoint="newest")
    # Killed during a reset of b: b destroyed. The checkpoint is the newest generation
    # not in force and holds b's memory state: it must not pass for a killed capture.
    b = plan.machines[1]
    driver.destroy_domain(b.domain)
    done = generations.recover(driver, plan, running=True)
    assert f"b: restored to its baseline {baseline.generation}" in done, done
    assert not any("interrupted" in line or "removed" in line for line in done), done
    assert driver.domain_state(b.domain) is DomainState.RUNNING
    assert backing(b.overlay) == baseline.disk(plan, "b")
    assert taken.directory(plan).is_dir()


def test_the_checkpoints_are_listed_and_deleted(
    settings: Settings, driver: Driver, plan: LabPlan, restored: list[Path]
) -> None:
    assert resets.checkpoints(settings, LAB) == []
    first = resets.checkpoint(settings, LAB, "one")
    second = resets.checkpoint(settings, LAB, "two")
    listed = resets.checkpoints(settings, LAB)
    assert [c.name for c in listed] == ["one", "two"]
    assert listed[0].created_at == first.created_at and listed[0].memory == ("a", "b")
    assert all(c.size > 0 for c in listed)
    resets.delete_checkpoint(settings, LAB, "one")
    assert not first.directory(plan).exists()  # nothing sits on it: gone at once
    resets.delete_checkpoint(settings, LAB, "two")
    assert generations.checkpoints(plan) == {}
    assert second.directory(plan).is_dir()  # the machines run on it until the next reset
    resets.reset(settings, LAB)
    assert not second.directory(plan).exists()


def test_an_unknown_checkpoint_is_refused_with_the_lab_s_checkpoints(
    settings: Settings, plan: LabPlan, restored: list[Path]
) -> None:
    with pytest.raises(NotFoundError) as none_yet:
        resets.reset(settings, LAB, to="after-task-9")
    assert "take one with `lab checkpoint cp NAME`" in none_yet.value.hint
    resets.checkpoint(settings, LAB, "after-task-1")
    resets.checkpoint(settings, LAB, "after-task-2")
    with pytest.raises(NotFoundError) as unknown:
        resets.reset(settings, LAB, to="after-task-9")
    assert "no checkpoint 'after-task-9'" in unknown.value.message
    assert unknown.value.hint == "its checkpoints: after-task-1, after-task-2"
    with pytest.raises(NotFoundError):
        resets.delete_checkpoint(settings, LAB, "after-task-9")
    assert StateStore.open(settings).resets(LAB) == []  # refused: no reset happened


@pytest.mark.parametrize("name", ["After", "../x", "-x", "x-", "a b", "x" * 41, ""])
def test_a_bad_checkpoint_name_is_refused(
    settings: Settings, driver: Driver, plan: LabPlan, base: Path, name: str
) -> None:
    with pytest.raises(InvalidError) as bad:
        generations.capture(driver, plan, bases(plan, base), checkpoint=name)
    assert bad.value.hint == CHECKPOINT_RULE
    for use_case in (
        lambda: resets.checkpoint(settings, LAB, name),
        lambda: resets.reset(settings, LAB, to=name),
        lambda: resets.delete_checkpoint(settings, LAB, name),
    ):
        with pytest.raises(InvalidError):
            use_case()
    assert not generations.baselines_dir(plan).exists()  # nothing was made


def test_a_checkpoint_is_taken_of_a_running_lab_only(
    settings: Settings, plan: LabPlan, restored: list[Path]
) -> None:
    state = StateStore.open(settings)
    state.update_lab(state.get_lab(LAB).model_copy(update={"status": LabStatus.STOPPED}))
    with pytest.raises(ConflictError) as stopped:
        resets.checkpoint(settings, LAB, "x")
    assert stopped.value.hint == f"start it first: lab start {LAB}"


def test_a_killed_capture_of_a_checkpoint_leaves_the_old_one_whole(
    driver: Driver, plan: LabPlan, base: Path
) -> None:
    old = generations.capture(driver, plan, bases(plan, base), checkpoint="step")
    # Killed while replacing it, right after a was saved and its overlay moved away.
    a = plan.machines[0]
    gdir = generations.baselines_dir(plan) / "20991231T000000-killed"
    gdir.mkdir()
    driver.save_domain(a.domain, gdir / "a.sav")
    os.replace(a.overlay, gdir / "a.qcow2")
    done = generations.recover(driver, plan, running=True)
    assert "a: resumed from the interrupted baseline capture" in done, done
    assert generations.checkpoints(plan) == {"step": old}
    assert old.directory(plan).is_dir() and gdir.is_dir()  # b and a run on them
    assert driver.domain_state(a.domain) is DomainState.RUNNING
