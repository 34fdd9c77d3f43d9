"""Use cases of a lab's clean state: capture a baseline, reset to it, verify it; and
its checkpoints: further named states (`after-task-2`) a reset can go to instead.

A memory reset puts every machine back to the instant of its baseline (or checkpoint):
destroy, a fresh thin overlay over the frozen disk layer, restore the saved memory
state, correct the guest's clock. When a lab has no memory baseline, or a restore fails,
the reset falls back to cold (fresh overlay, boot) and says so. Either way the lab
is reported ready only after it is verified: every machine answers on SSH and the
profile's quick checks pass.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.base import Frozen, Progress, quiet
from lab.baselines import batch, generations, on_server
from lab.baselines.records import ResetMode, ResetRecord
from lab.driver.connection import DomainState, Driver
from lab.errors import ConflictError, LabError, NotFoundError, quote
from lab.host import targets
from lab.host.space import space_guard
from lab.images import ImageStore
from lab.labs import appliances, deployment, guest
from lab.labs.lifecycle import READY_PROBE
from lab.labs.locks import lab_lock
from lab.labs.plan import LabPlan, MachinePlan
from lab.labs.records import LabRecord, LabStatus
from lab.profile import Check
from lab.settings import Settings
from lab.software.stack import require_verified, spec_of
from lab.store.state import StateStore
from lab.templates import restore

# How long a restored machine may take to answer on SSH before the reset counts as failed.
_RESTORED_DEADLINE = 60.0
# A guest agent that is not (yet) connected refuses a command at once; one that takes
# longer than this to fail has run it.
_AGENT_REFUSES = 5.0


class CheckFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    machine: str
    check: str
    detail: str


class CheckpointInfo(Frozen):
    """A checkpoint of a lab as its list shows it."""

    name: str
    created_at: datetime
    memory: tuple[str, ...]  # machines whose memory state it holds
    size: int  # bytes on disk: its frozen layers, memory states and NVRAM


def baseline(settings: Settings, name: str, progress: Progress = quiet) -> generations.Baseline:
    """Capture the lab's clean state; the previous baseline stays until this one is whole."""
    state = StateStore.open(settings)
    with lab_lock(settings, name), _connect(settings, name) as driver:
        record = state.get_lab(name)
        require_verified(record)
        started = time.monotonic()
        # A memory state is as large as the guest's RAM: a full disk is the likely failure.
        with space_guard(
            settings.home,
            f"capturing a baseline of lab '{name}'",
            "the baseline in force is unchanged and the lab runs on",
        ):
            result = _capture(settings, driver, record)
        progress(
            name, f"baseline {result.generation} captured in {time.monotonic() - started:.1f} s"
        )
        _verify(settings, driver, record.plan, _RESTORED_DEADLINE, progress, fix_clock=True)
    return result


def reset(
    settings: Settings,
    name: str,
    *,
    cold: bool = False,
    to: str | None = None,
    progress: Progress = quiet,
) -> ResetRecord:
    """Put a lab back to its baseline (or to its checkpoint `to`) and verify it; refused
    while another operation runs."""
    state = StateStore.open(settings)
    with lab_lock(settings, name), _connect(settings, name) as driver:
        record = state.get_lab(name)
        target = reset_target(record.plan, to)
        started_at = datetime.now(UTC)
        started = time.monotonic()
        mode, note = choose_mode(record.plan, cold, target)
        try:
            if mode is ResetMode.MEMORY:
                assert target is not None  # choose_mode checked it
                try:
                    deployment.parallel(
                        lambda m: _memory_reset(settings, driver, record, m, target),
                        record.plan.machines,
                    )
                except LabError as exc:
                    mode, note = ResetMode.COLD, f"memory restore failed ({exc.message}): cold"
                    progress(name, note)
            if mode is ResetMode.COLD:
                _cold_reset(settings, driver, record, target, progress)
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
                to=to,
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
            to=to,
        )
        state.add_reset(done)
        _prune(driver, record.plan)
    where = f" to checkpoint {to}" if to else ""
    progress(name, f"ready ({mode} reset{where}, verified) in {done.seconds:.1f} s")
    return done


def checkpoint(
    settings: Settings, name: str, checkpoint: str, progress: Progress = quiet
) -> generations.Baseline:
    """Capture the lab's state as it is now under the name `checkpoint` (replacing one of
    that name), then verify the lab. Unlike a baseline the lab need not have passed its
    tests (a trainee's changes are the point), but it must be running."""
    generations.check_checkpoint_name(checkpoint)
    state = StateStore.open(settings)
    with lab_lock(settings, name), _connect(settings, name) as driver:
        record = state.get_lab(name)
        if record.status is not LabStatus.RUNNING:
            raise ConflictError(
                f"lab '{name}' is {record.status}: a checkpoint is taken of a running lab",
                hint=f"start it first: lab start {name}",
            )
        started = time.monotonic()
        with space_guard(
            settings.home,
            f"capturing checkpoint {checkpoint} of lab '{name}'",
            "the baseline and the checkpoints are unchanged and the lab runs on",
        ):
            result = _capture(settings, driver, record, checkpoint)
        progress(name, f"checkpoint {checkpoint} captured in {time.monotonic() - started:.1f} s")
        _verify(settings, driver, record.plan, _RESTORED_DEADLINE, progress, fix_clock=True)
    return result


def baseline_at(settings: Settings, name: str) -> datetime | None:
    """When the lab's baseline in force was captured; None: it has none."""
    current = generations.current(StateStore.open(settings).get_lab(name).plan)
    return current.created_at if current else None


def checkpoints(settings: Settings, name: str) -> list[CheckpointInfo]:
    """The lab's checkpoints, by name."""
    plan = StateStore.open(settings).get_lab(name).plan
    found = generations.checkpoints(plan)
    if not plan.remote:
        sizes = {key: generations.size_on_disk(plan, b) for key, b in found.items()}
    else:
        with targets.connect(settings, plan.host) as driver:
            sizes = {key: on_server.size_on_disk(driver, plan, b) for key, b in found.items()}
    return [
        CheckpointInfo(name=key, created_at=b.created_at, memory=b.memory, size=sizes[key])
        for key, b in found.items()
    ]


def delete_checkpoint(settings: Settings, name: str, checkpoint: str) -> None:
    """Forget the lab's checkpoint; its files go once no machine's disk sits on them (at
    once, or after the next reset). NotFoundError when the lab has no such checkpoint."""
    generations.check_checkpoint_name(checkpoint)
    state = StateStore.open(settings)
    with lab_lock(settings, name):
        plan = state.get_lab(name).plan
        if not generations.forget_checkpoint(plan, checkpoint):
            raise _no_checkpoint(plan, name, checkpoint)
        if plan.remote:
            with targets.connect(settings, plan.host) as driver:
                on_server.prune(driver, plan)
        else:
            generations.prune(plan)


def _connect(settings: Settings, name: str) -> Driver:
    """A connection to the host lab `name` runs on (NotFoundError: no such lab)."""
    return targets.connect(settings, StateStore.open(settings).get_lab(name).host)


def _capture(
    settings: Settings, driver: Driver, record: LabRecord, checkpoint: str | None = None
) -> generations.Baseline:
    if record.plan.remote:
        return on_server.capture(driver, record.plan, checkpoint=checkpoint)
    return generations.capture(
        driver, record.plan, base_disks(settings, record), checkpoint=checkpoint
    )


def _prune(driver: Driver, plan: LabPlan) -> None:
    if plan.remote:
        on_server.prune(driver, plan)
    else:
        generations.prune(plan)


def reset_target(plan: LabPlan, to: str | None) -> generations.Baseline | None:
    """What a reset goes back to: the checkpoint `to` (NotFoundError, listing the lab's
    checkpoints, when it has none of that name), else the baseline in force (None: none)."""
    if to is None:
        return generations.current(plan)
    found = generations.checkpoint(plan, to)
    if found is None:
        raise _no_checkpoint(plan, plan.lab, to)
    return found


def _no_checkpoint(plan: LabPlan, lab: str, checkpoint: str) -> NotFoundError:
    names = list(generations.checkpoints(plan))
    return NotFoundError(
        f"lab '{lab}' has no checkpoint {quote(checkpoint)}",
        hint=f"its checkpoints: {', '.join(names)}"
        if names
        else f"it has none; take one with `lab checkpoint {lab} NAME`",
    )


def base_disks(settings: Settings, record: LabRecord) -> dict[str, Path]:
    store = ImageStore(settings)
    return {m: store.disk_of(digest) for m, digest in record.image_digests.items()}


def choose_mode(
    plan: LabPlan, cold: bool, target: generations.Baseline | None
) -> tuple[ResetMode, str]:
    """How a reset of the lab to `target` (the baseline in force or a checkpoint, see
    `reset_target`) goes, and why: from memory when it holds every machine's memory state
    (and no cold reset was asked for), else a cold boot."""
    if cold:
        return ResetMode.COLD, "cold reset as asked"
    if target is None:
        return ResetMode.COLD, "no baseline yet: cold reset (take one with `lab baseline`)"
    missing = [m.name for m in plan.machines if m.name not in target.memory]
    if missing:
        of = f" in checkpoint {target.name}" if target.name else ""
        return ResetMode.COLD, f"no memory state for {', '.join(missing)}{of}: cold reset"
    return ResetMode.MEMORY, ""


def _memory_reset(
    settings: Settings,
    driver: Driver,
    record: LabRecord,
    machine: MachinePlan,
    target: generations.Baseline,
) -> None:
    plan = record.plan
    power_off(driver, machine)
    if plan.remote:
        on_server.memory_reset(driver, machine, target)
        if target.template is not None:  # a clone at its template's state: its identity too
            restore.identify(settings, driver, plan, machine, spec_of(record))
        return
    generations.fresh_overlays(plan, machine, target)
    generations.restore_nvram(plan, machine, target)
    if target.template is not None:  # a clone at its template's state: its identity too
        restore.restore(settings, driver, plan, machine, target, spec_of(record))
    else:
        driver.restore_domain(target.memory_state(plan, machine.name), machine.domain)


def _cold_reset(
    settings: Settings,
    driver: Driver,
    record: LabRecord,
    target: generations.Baseline | None,
    progress: Progress,
) -> None:
    plan = record.plan
    capacity = driver.node_capacity() if plan.remote else None
    accel = targets.accel(settings, plan.host, capacity)
    slots = deployment.boot_slots(
        settings.boot_parallel, accel.virt_type, capacity.cpus if capacity else None
    )
    slot_dir = targets.slots_dir(settings, plan.host)

    def one(machine: MachinePlan) -> None:
        power_off(driver, machine)
        if plan.remote:
            on_server.cold_disk(driver, machine, target, on_server.server_images(record))
        else:
            bases = base_disks(settings, record)
            for layer, overlay in machine.layers:
                backing = target.disk(plan, layer) if target else bases[layer]
                generations.new_overlay(backing, overlay)
            generations.restore_nvram(plan, machine, target)
        # A boot slot of the host (lab.host.slots) from the start until its SSH server
        # answers: the seats of a class reset cold together boot no more at once than the
        # host's cores carry, and each one's boot timeout counts from its own start.
        with deployment.machine_slot(slot_dir, slots, machine, progress):
            if target is not None and target.template is not None:
                restore.boot(settings, driver, plan, machine, spec_of(record))
            else:
                driver.start_domain(machine.domain)
            progress(machine.name, "booting (cold reset)")
            _booted(settings, plan, machine)

    deployment.parallel(one, plan.machines)


def _booted(settings: Settings, plan: LabPlan, machine: MachinePlan) -> None:
    """A machine booting cold is past the costly part once its SSH server answers (an
    appliance: once started; its probes come with the verification)."""
    if machine.managed:
        guest.wait_listening(deployment.admin_address(plan, machine), settings.boot_timeout)


def power_off(driver: Driver, machine: MachinePlan) -> None:
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


def verify(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    progress: Progress,
    *,
    fix_clock: bool = False,
) -> None:
    """Every machine of a just restored (or booted) lab is ready: see `_verify`."""
    _verify(settings, driver, plan, _RESTORED_DEADLINE, progress, fix_clock=fix_clock)


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
        if fix_clock and _verify_restored(driver, plan, machine, deadline):
            progress(machine.name, "verified")
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


def _verify_restored(driver: Driver, plan: LabPlan, machine: MachinePlan, deadline: float) -> bool:
    """Verify a managed machine just restored from memory, the cheap way: its SSH server
    answers on its management address (no handshake: the restored server is the one that
    passed), while one call through the guest agent sets its clock and runs its quick
    checks as the management user (no network, no key exchange in an emulated CPU; see
    lab.baselines.batch). False when the agent does not answer: the caller verifies over
    SSH instead. A failed check raises."""
    with ThreadPoolExecutor(max_workers=1) as ssh:
        listening = ssh.submit(
            guest.wait_listening, deployment.admin_address(plan, machine), deadline
        )
        checked = _quick_checks_by_agent(driver, plan, machine, deadline)
        listening.result()  # the SSH verification without an agent needs it as well
    return checked


def _quick_checks_by_agent(
    driver: Driver, plan: LabPlan, machine: MachinePlan, deadline: float
) -> bool:
    """The machine's clock is set and each quick check passes within `deadline` seconds.

    The first call also waits for the just-restored agent to reconnect (False when it
    never does). A machine restored beside others (a class) catches up for a moment, and
    a check with its own time limit may fail once meanwhile: the failing checks are
    asked again until the deadline, then the first failure stands."""
    until = time.monotonic() + deadline
    checks = list(plan.quick_checks(machine.name))
    results = _batch_by_agent(driver, machine, checks, clock=True)
    if results is None:
        return False
    while True:
        failing = [c for c in checks if not _passes(c, results[c.name])]
        if not failing or time.monotonic() > until:
            break
        time.sleep(0.5)
        again = _batch_by_agent(driver, machine, failing, clock=False)
        if again is None:
            break
        results |= again
    for check in checks:
        _check(plan, machine, check, results[check.name])
    return True


def _batch_by_agent(
    driver: Driver, machine: MachinePlan, checks: list[Check], *, clock: bool
) -> dict[str, guest.CommandResult] | None:
    """Run `checks` in one guest agent call (with the clock set first when `clock`):
    each check's result by name. None when the agent does not answer; a just-restored
    agent needs a moment to reconnect, so it is asked for a few seconds."""
    commands = [c.run for c in checks if c.run is not None]  # quick checks are commands
    token = secrets.token_hex(12)
    body = batch.script(commands, token)
    started = time.monotonic()
    limit = batch.CHECK_TIMEOUT * len(commands) + 30
    ran = _agent_run(driver, machine, body, clock=clock, timeout=limit)
    if ran is None:
        return None
    code, out, err = ran
    if code == batch.CLOCK_FAILED and clock:
        raise LabError(f"could not set the clock of {machine.name}: {err.decode()[-200:]}")
    duration = time.monotonic() - started
    stderr = err.decode(errors="replace")
    found = batch.outcomes(out.decode(errors="replace"), len(commands), token)
    return {
        check.name: guest.CommandResult(
            exit_code=outcome.exit_code,
            stdout=outcome.stdout,
            stderr=stderr,
            duration=duration,
        )
        for check, outcome in zip(checks, found, strict=True)
    }


def _agent_run(
    driver: Driver, machine: MachinePlan, body: str, *, clock: bool, timeout: float
) -> tuple[int, bytes, bytes] | None:
    """`body` run through the agent as the management user, after setting the clock when
    `clock` (a first call, which also waits up to a few seconds for a just-restored agent
    to reconnect). None when the agent does not answer."""
    for attempt in range(40 if clock else 1):
        if attempt:
            time.sleep(0.1)
        argv = batch.argv(body, deployment.ADMIN_USER, time.time() if clock else None)
        asked = time.monotonic()
        try:
            return driver.guest_exec(machine.domain, argv, timeout=timeout)
        except LabError:
            if time.monotonic() - asked > _AGENT_REFUSES:
                raise  # the agent answered, the batch itself went wrong
    return None


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


def _passes(check: Check, result: guest.CommandResult) -> bool:
    return result.exit_code == check.expect_exit and (
        check.expect_output is None or check.expect_output in result.stdout
    )


def _check(plan: LabPlan, machine: MachinePlan, check: Check, result: guest.CommandResult) -> None:
    if _passes(check, result):
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
