"""Use cases of the lab lifecycle: up, down, start, stop, status, list, reconcile.

The CLI and the API both call these; no logic lives only in either. Each use
case takes the settings and a progress callback, and raises LabError subclasses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.access import ownership
from lab.access.users import User
from lab.base import Frozen, Progress, quiet
from lab.baselines import generations, on_server
from lab.driver import nic_filter_xml
from lab.driver.connection import DomainState, Driver
from lab.errors import HostError, LabError, quote
from lab.host import images as host_images
from lab.host import targets
from lab.host.facts import AccelChoice
from lab.host.hosts import PROBE_SECONDS, open_within
from lab.host.model import LOCAL, POOL, HostRecord
from lab.host.records import HostStore
from lab.host.space import space_guard
from lab.images import Image, ImageStore
from lab.images.role_images import images_for, with_role_images
from lab.labs import appliances, deployment, guest
from lab.labs.locks import NAMES, is_locked, lab_lock
from lab.labs.naming import check_lab_name, split_name, valid_lab_name
from lab.labs.plan import LabPlan, MachinePlan, allocate_management, plan_lab, profile_name
from lab.labs.records import LabRecord, LabStatus
from lab.placement import admission
from lab.profile import Profile, load_profile
from lab.settings import NicFilter, Settings
from lab.software import stack
from lab.software.provisioning import ProvisionError
from lab.store.state import StateStore, now

# A machine is ready once cloud-init has finished (it writes boot-finished last), not
# when SSH first answers: its later stages restart services, sshd among them. A shell
# `test`, because starting Python under TCG costs seconds.
READY_PROBE = guest.FIRST_BOOT_DONE


class MachineStatus(Frozen):
    name: str
    domain: str
    state: DomainState
    addresses: tuple[tuple[str, str], ...]  # (network, ip)
    reachable: bool
    agent: bool


class LabReport(Frozen):
    lab: LabRecord
    machines: tuple[MachineStatus, ...]


class ReconcileReport(Frozen):
    removed: tuple[str, ...]  # what was removed, one line each
    kept: tuple[str, ...]  # labs found complete and left alone
    busy: tuple[str, ...]  # labs skipped because an operation holds their lock
    unreachable: tuple[str, ...] = ()  # labs left alone: their host does not answer


def up(
    settings: Settings,
    profile_path: Path,
    name: str | None = None,
    progress: Progress = quiet,
    *,
    provision: bool = True,
    owner: User | None = None,
    host: str = LOCAL,
) -> LabRecord:
    """Bring a profile up as a lab, provisioned and verified; on any failure before
    verification remove everything this call made. `provision=False` stops once the
    machines answer (roles not applied, lab not verified). `owner`: the user asking
    (None: the host's CLI, or a class); the lab is theirs once its machines are up,
    under the rules of lab.access.ownership. `host`: the lab host it goes on (lab.host);
    the images it needs are copied there first, once per host."""
    profile = with_role_images(settings, load_profile(profile_path))
    lab = check_lab_name(name or profile_name(profile))
    ownership.check_new_lab(settings, lab, owner)
    images = images_for(settings, profile)
    server = HostStore.open(settings).get(host)
    admission.check_open(settings, f"lab {quote(lab)}", server.name)
    if server.name != LOCAL:
        host_images.ensure_images(settings, server.name, sorted(images), progress)
    with space_guard(settings.home, f"bringing up lab '{lab}'", "nothing of the lab was kept"):
        return _up(settings, profile_path, profile, lab, images, server, progress, provision, owner)


def _up(
    settings: Settings,
    profile_path: Path,
    profile: Profile,
    lab: str,
    images: dict[str, Image],
    server: HostRecord,
    progress: Progress,
    provision: bool,
    owner: User | None,
) -> LabRecord:
    store = ImageStore(settings)
    state = StateStore.open(settings)
    with lab_lock(settings, lab), targets.connect(settings, server.name) as driver:
        target = targets.target(driver, server)
        accel = _accel(settings, driver, server.name)
        where = "" if server.name == LOCAL else f" on host {server.name}"
        progress("lab", f"accelerator{where}: {accel.virt_type} ({accel.reason})")
        check_nic_filter(driver, settings.nic_filter)
        # Choosing a management subnet and recording the lab is one step for all labs,
        # so that labs brought up side by side (a class) never pick the same subnet, and
        # the ownership rules hold against classes and labs asked for meanwhile.
        with lab_lock(settings, NAMES, wait=60):
            ownership.check_new_lab(settings, lab, owner)
            # Subnets of other libvirt networks too (another LAB_HOME, the host's own).
            used = {r.plan.management.cidr for r in state.list_labs()}
            used |= driver.network_subnets()
            management = allocate_management(settings.mgmt_pool, used)
            plan = plan_lab(profile, lab, settings.prefix, settings.labs_dir, management, target)
            deployment.check_free(driver, plan)
            admission.check_fits(settings, driver, [plan], f"lab {quote(lab)}")
            stamp = now()
            record = LabRecord(
                name=plan.lab,
                profile=plan.profile,
                profile_path=str(profile_path),
                status=LabStatus.CREATING,
                plan=plan,
                image_digests={
                    layer: images[image].digest for m in plan.machines for layer, image in m.images
                },
                spec=profile,
                host=plan.host,
                owner=owner.name if owner is not None else None,
                created_at=stamp,
                updated_at=stamp,
            )
            state.add_lab(record)  # before anything exists: a crash from here is reconcilable
        try:
            deployment.create(
                driver, plan, profile, images, store, accel, settings.nic_filter, progress
            )
            _boot(settings, driver, plan, accel, progress)
            if provision and any(m.roles for m in plan.machines):
                progress("lab", "provisioning the roles")
                stack.provision_record(settings, record, progress)
        except BaseException as exc:
            progress("lab", "failed: removing everything this `up` created")
            kept = (
                stack.keep_log(settings, exc.artifacts, plan.lab)
                if isinstance(exc, ProvisionError)
                else None
            )
            deployment.teardown(driver, plan, settings.prefix, settings.labs_dir, plan.pool)
            state.delete_lab(plan.lab)
            if kept is not None and isinstance(exc, ProvisionError):
                raise ProvisionError(exc.message, hint=f"{exc.hint}; kept at {kept}") from exc
            raise
        running = state.update_lab(
            state.get_lab(plan.lab).model_copy(update={"status": LabStatus.RUNNING})
        )
        # Its machines are up: the lab exists, and a failed verification leaves it for its
        # owner to look into and remove.
        ownership.take(settings, plan.lab, owner)
        if not provision:
            return running
        progress("lab", "verifying")
        stack.raise_unverified(stack.verify_record(settings, running, progress))
        return state.get_lab(plan.lab)


def down(settings: Settings, name: str, progress: Progress = quiet) -> list[str]:
    """Remove a lab entirely, and every assignment to it. Idempotent: an unknown lab is
    simply nothing to remove. InvalidError, before anything is touched, for a name that
    is not a lab's."""
    check_lab_name(name)
    state = StateStore.open(settings)
    found = state.find_lab(name)
    host = found.host if found is not None else LOCAL
    with lab_lock(settings, name, wait=60), targets.connect(settings, host) as driver:
        record = state.find_lab(name)
        if record is not None:
            state.update_lab(record.model_copy(update={"status": LabStatus.DELETING}))
        removed = deployment.teardown(
            driver,
            record.plan if record else name,
            settings.prefix,
            settings.labs_dir,
            record.plan.pool if record else None,
        )
        state.delete_lab(name)
        for user in ownership.forget_lab(settings, name):
            removed.append(f"assignment of user {user}")
    for line in removed:
        progress(name, f"removed {line}")
    return removed


def list_labs(settings: Settings) -> list[LabRecord]:
    return StateStore.open(settings).list_labs()


def get_lab(settings: Settings, name: str) -> LabRecord:
    return StateStore.open(settings).get_lab(name)


def status(settings: Settings, name: str) -> LabReport:
    """Each machine's power state, addresses, and whether SSH and the agent answer."""
    record = get_lab(settings, name)
    with targets.connect(settings, record.host) as driver:

        def one(machine: MachinePlan) -> MachineStatus:
            present = driver.domain_exists(machine.domain)
            power = driver.domain_state(machine.domain) if present else DomainState.MISSING
            running = power is DomainState.RUNNING
            return MachineStatus(
                name=machine.name,
                domain=machine.domain,
                state=power,
                addresses=tuple((n.network, str(n.address)) for n in machine.all_nics),
                reachable=running and _answers(driver, record.plan, machine, timeout=15),
                agent=running
                and has_agent(machine)
                and driver.qemu_agent_ping(machine.domain, timeout=2),
            )

        with ThreadPoolExecutor(max_workers=max(1, len(record.plan.machines))) as pool:
            machines = tuple(pool.map(one, record.plan.machines))
    return LabReport(lab=record, machines=machines)


def stop(settings: Settings, name: str, progress: Progress = quiet) -> LabRecord:
    """Shut every machine down (ACPI, then forcibly after a grace period)."""
    state = StateStore.open(settings)
    record = state.get_lab(name)
    with lab_lock(settings, name, wait=60), targets.connect(settings, record.host) as driver:
        for machine in record.plan.machines:
            if driver.domain_state(machine.domain) is DomainState.RUNNING:
                driver.shutdown_domain(machine.domain)
        for machine in record.plan.machines:
            if not driver.wait_state(machine.domain, {DomainState.SHUTOFF}, seconds=60):
                driver.destroy_domain(machine.domain)
                progress(machine.name, "did not shut down in 60 s: powered off")
            else:
                progress(machine.name, "shut down")
        return state.update_lab(record.model_copy(update={"status": LabStatus.STOPPED}))


def start(settings: Settings, name: str, progress: Progress = quiet) -> LabRecord:
    """Start a stopped lab and wait until every machine answers. A stopped lab holds no
    memory, so its start is weighed like a new lab (CapacityError when it does not fit,
    nothing started); from then on it counts for the labs asked for meanwhile."""
    state = StateStore.open(settings)
    record = state.get_lab(name)
    with lab_lock(settings, name, wait=60), targets.connect(settings, record.host) as driver:
        accel = _accel(settings, driver, record.host)
        was = record.status
        if was is not LabStatus.RUNNING:
            with lab_lock(settings, NAMES, wait=60):
                admission.check_fits(settings, driver, [record.plan], f"lab {quote(name)}")
                record = state.update_lab(record.model_copy(update={"status": LabStatus.RUNNING}))
        try:
            _boot(settings, driver, record.plan, accel, progress)
        except BaseException:
            state.update_lab(record.model_copy(update={"status": was}))
            raise
        return record


def guest_address(settings: Settings, name: str, machine: str) -> guest.GuestAddress:
    """How to reach one machine of a lab over SSH as the management user."""
    plan = get_lab(settings, name).plan
    return deployment.admin_address(plan, plan.machine(machine))


def reconcile(
    settings: Settings, progress: Progress = quiet, host_seconds: float = PROBE_SECONDS
) -> ReconcileReport:
    """Make the state store and libvirt agree after a crash, host by host.

    A lab is kept only when it is complete: recorded as running or stopped, with
    every domain and network present. Everything else this project made (labs
    left half-created or half-deleted, objects, volumes and directories nobody recorded)
    is removed, so each lab ends up fully present or fully gone. A kept lab is also
    put back in working order after a killed baseline or reset (`generations.recover`):
    its machines run again, and half-made files and baseline generations go. The labs of
    a host that does not answer (within `host_seconds`) are left exactly as they are
    (reported unreachable): nothing is deleted for want of an answer, and a later
    reconcile finds them.
    """
    state = StateStore.open(settings)
    recorded = {lab.name: lab for lab in state.list_labs()}
    report = ReconcileReport(removed=(), kept=(), busy=())
    for host in HostStore.open(settings).list():
        on_host = {name: lab for name, lab in recorded.items() if lab.host == host.name}
        try:
            if host.name == LOCAL:
                driver = Driver.open(host.uri)
            else:  # a server that hangs is given up on, like one that refuses
                driver = open_within(host.uri, host_seconds)
        except LabError as exc:
            if host.name == LOCAL:
                raise
            progress("reconcile", f"host {host.name} does not answer: {exc.message}")
            report = report.model_copy(
                update={"unreachable": report.unreachable + tuple(sorted(on_host))}
            )
            continue
        with driver:
            report = _reconcile_host(
                settings, driver, host.name, on_host, set(recorded), report, progress
            )
    for line in report.removed:
        progress("reconcile", f"removed {line}")
    return report


def _reconcile_host(
    settings: Settings,
    driver: Driver,
    host: str,
    on_host: dict[str, LabRecord],
    recorded: set[str],
    report: ReconcileReport,
    progress: Progress,
) -> ReconcileReport:
    state = StateStore.open(settings)
    pool = None if host == LOCAL else POOL
    removed: list[str] = []
    kept: list[str] = []
    busy: list[str] = []
    for lab in on_host.values():
        if is_locked(settings, lab.name):
            busy.append(lab.name)
        elif _complete(driver, lab):
            with lab_lock(settings, lab.name):
                running = lab.status is LabStatus.RUNNING
                if lab.plan.remote:
                    images = on_server.server_images(lab)
                    done = on_server.recover(driver, lab.plan, running=running, image=images)
                else:
                    done = generations.recover(driver, lab.plan, running=running)
                for line in done:
                    progress(lab.name, line)
            kept.append(lab.name)
        else:
            with lab_lock(settings, lab.name):
                removed += deployment.teardown(
                    driver, lab.plan, settings.prefix, settings.labs_dir, pool
                )
                state.delete_lab(lab.name)
                ownership.forget_lab(settings, lab.name)
            removed.append(f"lab {lab.name} ({lab.status}, incomplete)")
    for orphan in sorted(_orphans(driver, settings, recorded, pool)):
        if is_locked(settings, orphan):
            busy.append(orphan)
            continue
        with lab_lock(settings, orphan):
            removed += deployment.teardown(driver, orphan, settings.prefix, settings.labs_dir, pool)
    return ReconcileReport(
        removed=report.removed + tuple(removed),
        kept=report.kept + tuple(kept),
        busy=report.busy + tuple(busy),
        unreachable=report.unreachable,
    )


def _accel(settings: Settings, driver: Driver, host: str) -> AccelChoice:
    """The accelerator of `host` (`driver` is connected to it)."""
    return targets.accel(settings, host, None if host == LOCAL else driver.node_capacity())


def has_agent(machine: MachinePlan) -> bool:
    """Whether the machine has a guest agent channel: every managed machine, and an
    appliance whose profile says it runs the agent."""
    return machine.appliance is None or machine.appliance.guest_agent


def check_nic_filter(driver: Driver, nic_filter: NicFilter) -> None:
    """The lab NICs' filter exists in libvirt: ours is defined on first use."""
    if nic_filter is NicFilter.NONE or driver.nwfilter_exists(nic_filter.value):
        return
    if nic_filter is NicFilter.LAB:
        driver.define_nwfilter(nic_filter_xml())
        return
    raise HostError(
        f"libvirt has no network filter '{nic_filter.value}' for the lab NICs",
        hint="install libvirt's nwfilter driver (Debian: libvirt-daemon-system) and restart"
        " libvirtd, or run without anti-spoofing: LAB_NIC_FILTER=none",
    )


def _complete(driver: Driver, lab: LabRecord) -> bool:
    if lab.status not in (LabStatus.RUNNING, LabStatus.STOPPED):
        return False
    return all(driver.domain_exists(m.domain) for m in lab.plan.machines) and all(
        driver.network_exists(n.libvirt_name) for n in lab.plan.all_networks
    )


def _orphans(driver: Driver, settings: Settings, recorded: set[str], pool: str | None) -> set[str]:
    """Names of labs that have libvirt objects, volumes (in `pool`, on another server)
    or a directory (this machine's) but no record."""
    found: set[str] = set()
    names = driver.list_domains(settings.prefix) + driver.list_networks(settings.prefix)
    if pool is not None:
        names += driver.list_volumes(pool)
    for name in names:
        parts = split_name(settings.prefix, name)
        if parts is not None:
            found.add(parts[0])
    if pool is None and settings.labs_dir.is_dir():
        # Only directories named as a lab can be a lab's: others are not ours to remove.
        found |= {
            p.name for p in settings.labs_dir.iterdir() if p.is_dir() and valid_lab_name(p.name)
        }
    return found - recorded


def _answers(driver: Driver, plan: LabPlan, machine: MachinePlan, timeout: float) -> bool:
    """A managed machine answers on SSH; an appliance passes its ready probes."""
    try:
        if not machine.managed:
            probes = appliances.ready_probes(plan, machine, after_reset=False)
            return all(r.ok for r in appliances.run_probes(driver, plan, machine, probes))
        return (
            guest.run(deployment.admin_address(plan, machine), "true", timeout=timeout).exit_code
            == 0
        )
    except LabError:
        return False


def _boot(
    settings: Settings, driver: Driver, plan: LabPlan, accel: AccelChoice, progress: Progress
) -> None:
    """Every machine is started and answers on SSH (and its guest agent), an appliance
    passes its ready probes, or the lab's `up` fails; boots are paced to the host
    (LAB_BOOT_PARALLEL). Managed machines boot first: they run the appliances' probes."""

    def ready(machine: MachinePlan) -> None:
        def note(message: str) -> None:
            progress(machine.name, message)

        if not machine.managed:
            _appliance_ready(settings, driver, plan, machine, note)
            return
        try:
            took = guest.wait_ready(
                deployment.admin_address(plan, machine),
                settings.boot_timeout,
                note,
                probe=READY_PROBE,
            )
        except LabError as exc:
            raise LabError(
                f"machine '{machine.name}' of lab '{plan.lab}' did not come up: {exc.message}\n"
                f"last lines of its console:\n{deployment.console_tail(driver, plan, machine)}",
                hint="the console above shows where the boot stopped; "
                f"LAB_BOOT_TIMEOUT (now {settings.boot_timeout:.0f} s) sets how long to wait",
            ) from exc
        agent = driver.qemu_agent_ping(machine.domain, timeout=10)
        progress(machine.name, f"ready in {took:.1f} s (SSH{', guest agent' if agent else ''})")

    cores = driver.node_capacity().cpus if plan.remote else None
    slots = deployment.boot_slots(settings.boot_parallel, accel.virt_type, cores)
    deployment.boot(driver, plan, slots, ready, progress, targets.slots_dir(settings, plan.host))


def _appliance_ready(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    machine: MachinePlan,
    note: Callable[[str], None],
) -> None:
    started = time.monotonic()
    probes = appliances.ready_probes(plan, machine, after_reset=False)
    try:
        results = appliances.wait_ready(driver, plan, machine, probes, settings.boot_timeout, note)
    except LabError as exc:
        raise LabError(
            f"appliance '{machine.name}' of lab '{plan.lab}' did not become ready:"
            f" {exc.message}\nlast lines of its serial console:\n"
            f"{deployment.console_tail(driver, plan, machine)}",
            hint="open its graphical console on the lab's page to see where it stopped;"
            f" LAB_BOOT_TIMEOUT (now {settings.boot_timeout:.0f} s) sets how long to wait",
        ) from exc
    took = time.monotonic() - started
    said = ", ".join(r.spec.describe() for r in results) or "no ready probes: running"
    note(f"ready in {took:.1f} s ({said})")
