"""Use cases of a lab's clean state: capture a baseline, reset to it, verify it.

A memory reset puts every machine back to the instant of its baseline: destroy,
a fresh thin overlay over the frozen disk layer, restore the saved memory state,
correct the guest's clock. When a lab has no memory baseline, or a restore fails,
the reset falls back to cold (fresh overlay, boot) and says so. Either way the lab
is reported ready only after it is verified: every machine answers on SSH and the
profile's quick checks pass.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.base import Progress, quiet
from lab.baselines import generations
from lab.baselines.records import ResetMode, ResetRecord
from lab.driver.connection import DomainState, Driver
from lab.errors import ConflictError, LabError
from lab.host.space import space_guard
from lab.images import ImageStore
from lab.labs import appliances, deployment, guest
from lab.labs.lifecycle import READY_PROBE
from lab.labs.locks import lab_lock
from lab.labs.plan import LabPlan, MachinePlan
from lab.labs.records import LabRecord
from lab.profile import Check
from lab.settings import Settings
from lab.software.stack import require_verified
from lab.store.state import StateStore

# How long a restored machine may take to answer on SSH before the reset counts as failed.
_RESTORED_DEADLINE = 60.0


class CheckFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    machine: str
    check: str
    detail: str


def baseline(settings: Settings, name: str, progress: Progress = quiet) -> generations.Baseline:
    """Capture the lab's clean state; the previous baseline stays until this one is whole."""
    state = StateStore.open(settings)
    with lab_lock(settings, name), Driver.open(settings.libvirt_uri) as driver:
        record = state.get_lab(name)
        require_verified(record)
        started = time.monotonic()
        # A memory state is as large as the guest's RAM: a full disk is the likely failure.
        with space_guard(
            settings.home,
            f"capturing a baseline of lab '{name}'",
            "the baseline in force is unchanged and the lab runs on",
        ):
            result = generations.capture(driver, record.plan, base_disks(settings, record))
        progress(
            name, f"baseline {result.generation} captured in {time.monotonic() - started:.1f} s"
        )
        _verify(settings, driver, record.plan, _RESTORED_DEADLINE, progress, fix_clock=True)
    return result


def reset(
    settings: Settings, name: str, *, cold: bool = False, progress: Progress = quiet
) -> ResetRecord:
    """Put a lab back to its baseline and verify it; refused while another operation runs."""
    state = StateStore.open(settings)
    with lab_lock(settings, name), Driver.open(settings.libvirt_uri) as driver:
        record = state.get_lab(name)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        mode, note = choose_mode(record.plan, cold)
        try:
            if mode is ResetMode.MEMORY:
                try:
                    deployment.parallel(
                        lambda m: _memory_reset(driver, record.plan, m), record.plan.machines
                    )
                except LabError as exc:
                    mode, note = ResetMode.COLD, f"memory restore failed ({exc.message}): cold"
                    progress(name, note)
            if mode is ResetMode.COLD:
                _cold_reset(settings, driver, record, progress)
            deadline = settings.boot_timeout if mode is ResetMode.COLD else _RESTORED_DEADLINE
            _verify(
                settings,
                driver,
                record.plan,
                deadline,
                progress,
                fix_clock=mode is ResetMode.MEMORY,
            )
        except BaseException as exc:
            failed = ResetRecord(
                lab=name,
                mode=mode,
                ok=False,
                seconds=time.monotonic() - started,
                started_at=started_at,
                note=(note + "; " if note else "") + _describe(exc),
            )
            state.add_reset(failed)
            raise
        done = ResetRecord(
            lab=name,
            mode=mode,
            ok=True,
            seconds=time.monotonic() - started,
            started_at=started_at,
            note=note,
        )
        state.add_reset(done)
        generations.prune(record.plan)
    progress(name, f"ready ({mode} reset, verified) in {done.seconds:.1f} s")
    return done


def base_disks(settings: Settings, record: LabRecord) -> dict[str, Path]:
    store = ImageStore(settings)
    return {m: store.disk_of(digest) for m, digest in record.image_digests.items()}


def choose_mode(plan: LabPlan, cold: bool) -> tuple[ResetMode, str]:
    """How a reset of the lab goes, and why: from memory when the baseline in force holds
    every machine's memory state (and no cold reset was asked for), else a cold boot."""
    if cold:
        return ResetMode.COLD, "cold reset as asked"
    current = generations.current(plan)
    if current is None:
        return ResetMode.COLD, "no baseline yet: cold reset (take one with `lab baseline`)"
    missing = [m.name for m in plan.machines if m.name not in current.memory]
    if missing:
        return ResetMode.COLD, f"no memory state for {', '.join(missing)}: cold reset"
    return ResetMode.MEMORY, ""


def _memory_reset(driver: Driver, plan: LabPlan, machine: MachinePlan) -> None:
    current = generations.current(plan)
    assert current is not None  # choose_mode checked it
    _power_off(driver, machine)
    generations.fresh_overlays(plan, machine, current)
    generations.restore_nvram(plan, machine, current)
    driver.restore_domain(current.memory_state(plan, machine.name))


def _cold_reset(settings: Settings, driver: Driver, record: LabRecord, progress: Progress) -> None:
    plan = record.plan
    current = generations.current(plan)
    bases = base_disks(settings, record)

    def one(machine: MachinePlan) -> None:
        _power_off(driver, machine)
        for layer, overlay in machine.layers:
            backing = current.disk(plan, layer) if current else bases[layer]
            generations.new_overlay(backing, overlay)
        generations.restore_nvram(plan, machine, current)
        driver.start_domain(machine.domain)
        progress(machine.name, "booting (cold reset)")

    deployment.parallel(one, plan.machines)


def _power_off(driver: Driver, machine: MachinePlan) -> None:
    """Stop the machine, whatever it is doing.

    A reset killed half-way can leave libvirt finishing its restore job: the domain
    is then neither running nor off for a moment, and destroy is refused. Wait for it.
    """
    for _ in range(40):
        if driver.domain_state(machine.domain) is DomainState.SHUTOFF:
            return
        try:
            driver.destroy_domain(machine.domain)
            return
        except ConflictError:
            time.sleep(0.25)
    raise LabError(
        f"machine '{machine.name}' could not be stopped for the reset",
        hint="try again in a minute; `lab status` shows its state",
    )


def _verify(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    deadline: float,
    progress: Progress,
    *,
    fix_clock: bool = False,
) -> None:
    """Every machine answers on SSH and passes the profile's quick checks.

    With `fix_clock` (after a memory restore) the guest's clock is set through the
    agent at the same time: the two are independent, and each costs about a second.
    """

    def one(machine: MachinePlan) -> None:
        if not machine.managed:
            _verify_appliance(driver, plan, machine, deadline, progress, fix_clock=fix_clock)
            return
        with ThreadPoolExecutor(max_workers=1) as clock:
            fixed = clock.submit(_set_clock, driver, machine) if fix_clock else None
            addr = deployment.admin_address(plan, machine)
            client, _ = guest.wait_connected(addr, deadline, probe=READY_PROBE)
            try:
                for check in plan.quick_checks(machine.name):
                    assert check.run is not None  # quick_checks gives command checks only
                    _check(plan, machine, check, guest.run_on(client, addr, check.run, 60))
            finally:
                client.close()
            if fixed is not None:
                fixed.result()
        progress(machine.name, "verified")

    deployment.parallel(one, plan.machines)


def _verify_appliance(
    driver: Driver,
    plan: LabPlan,
    machine: MachinePlan,
    deadline: float,
    progress: Progress,
    *,
    fix_clock: bool,
) -> None:
    """An appliance passes its ready probes and its quick probe tests; its clock is set
    through the guest agent when it has one."""
    assert machine.appliance is not None
    with ThreadPoolExecutor(max_workers=1) as clock:
        agent = fix_clock and machine.appliance.guest_agent
        fixed = clock.submit(_set_clock, driver, machine) if agent else None
        probes = appliances.ready_probes(plan, machine, after_reset=True)
        appliances.wait_ready(
            driver, plan, machine, probes, deadline, lambda m: progress(machine.name, m)
        )
        if fixed is not None:
            fixed.result()
    progress(machine.name, "verified" + (" by its probes" if probes else " (no probes: running)"))


def _set_clock(driver: Driver, machine: MachinePlan) -> None:
    """Set the guest clock; a just-restored guest's agent needs a moment to reconnect."""
    for _ in range(40):
        try:
            driver.set_guest_time(machine.domain)
            return
        except LabError:
            time.sleep(0.25)
    driver.set_guest_time(machine.domain)


def _check(plan: LabPlan, machine: MachinePlan, check: Check, result: guest.CommandResult) -> None:
    if result.exit_code == check.expect_exit and (
        check.expect_output is None or check.expect_output in result.stdout
    ):
        return
    raise LabError(
        f"machine '{machine.name}' of lab '{plan.lab}' failed check"
        f" '{check.name}': exit {result.exit_code}, output {result.stdout.strip()[-200:]!r}",
        hint="the lab is not ready; reset it again, or `lab reset --cold`",
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LabError):
        return exc.message.splitlines()[0]
    return type(exc).__name__
