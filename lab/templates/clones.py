"""A lab cloned from a template: thin overlays over the template's frozen layers, its
machines' memory states restored into the lab's own domains, the lab's own identity set
in each machine, then verified like after a reset.

From then on the clone is an ordinary lab (baseline, reset, checkpoints, courses, down):
its baseline in force is the template's state (`generations.from_template`), so a reset
goes back to it, identity included, until the lab takes a baseline of its own. When a
memory state cannot be restored (another QEMU, another CPU), the machine boots from the
template's disk instead, and the lab says so.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from lab.access import ownership
from lab.access.users import User
from lab.base import Progress, quiet
from lab.baselines import generations, resets
from lab.driver import saved_state
from lab.driver.connection import Driver
from lab.driver.domain_xml import clone_domain_xml
from lab.errors import ConflictError, LabError, NotFoundError, quote
from lab.host import targets
from lab.host.model import LOCAL
from lab.host.records import HostStore
from lab.host.space import space_guard
from lab.images import ImageStore
from lab.labs import deployment, keys, passwords, seed
from lab.labs.lifecycle import check_nic_filter
from lab.labs.locks import NAMES, lab_lock
from lab.labs.naming import check_lab_name
from lab.labs.plan import LabPlan, MachinePlan, allocate_management
from lab.labs.records import LabRecord, LabStatus
from lab.placement import admission
from lab.profile import Profile
from lab.settings import Settings
from lab.store.state import StateStore, now
from lab.templates import on_server, restore
from lab.templates.model import Template, TemplateMachine
from lab.templates.plan import clone_plan, domain_paths, network_names
from lab.templates.store import TemplateStore


def check_new_clone(
    settings: Settings,
    template: str,
    name: str,
    owner: User | None = None,
    host: str = LOCAL,
) -> None:
    """What can be refused at once (an API answers before accepting the operation): no
    such template, a bad or taken lab name, a name `owner` may not take, a host nobody
    added or that is draining."""
    TemplateStore(settings).get(template)
    lab = check_lab_name(name)
    if StateStore.open(settings).find_lab(lab) is not None:
        raise ConflictError(
            f"a lab named '{lab}' exists already", hint="pick another name, or delete it"
        )
    ownership.check_new_lab(settings, lab, owner)
    server = HostStore.open(settings).get(host)
    admission.check_open(settings, f"lab {quote(lab)}", server.name)


def clone(
    settings: Settings,
    template: str,
    name: str,
    progress: Progress = quiet,
    *,
    owner: User | None = None,
    host: str = LOCAL,
) -> LabRecord:
    """Lab `name` from template `template`, verified: an ordinary lab from then on. On
    any failure, everything this call made is removed. `host`: the lab host it goes on
    (lab.host); the template's files are copied there first, once per host."""
    store = TemplateStore(settings)
    found = store.get(template)
    spec = _spec_of(found)
    lab = check_lab_name(name)
    ownership.check_new_lab(settings, lab, owner)
    _check_images(settings, found)
    server = HostStore.open(settings).get(host)
    admission.check_open(settings, f"lab {quote(lab)}", server.name)
    if server.name != LOCAL:
        on_server.ensure_template(settings, server.name, found, progress)
    state = StateStore.open(settings)
    started = time.monotonic()
    with (
        space_guard(settings.home, f"cloning lab '{lab}'", "nothing of the lab was kept"),
        lab_lock(settings, lab),
        targets.connect(settings, server.name) as driver,
    ):
        target = targets.target(driver, server)
        check_nic_filter(driver, settings.nic_filter)
        with lab_lock(settings, NAMES, wait=60):
            ownership.check_new_lab(settings, lab, owner)
            found = store.get(template)  # not deleted meanwhile: `delete` takes this lock
            used = {r.plan.management.cidr for r in state.list_labs()}
            used |= driver.network_subnets()
            management = allocate_management(settings.mgmt_pool, used)
            plan = clone_plan(
                found.plan, spec, lab, settings.prefix, settings.labs_dir, management, target
            )
            deployment.check_free(driver, plan)
            admission.check_fits(settings, driver, [plan], f"lab {quote(lab)}")
            stamp = now()
            record = LabRecord(
                name=lab,
                profile=found.profile,
                profile_path=found.profile_path,
                status=LabStatus.CREATING,
                plan=plan,
                image_digests=found.image_digests,
                template=found.name,
                spec=spec,
                host=plan.host,
                owner=owner.name if owner is not None else None,
                provisioned_at=stamp,
                # The state it starts in passed these tests in the template's lab.
                verification=found.verification,
                created_at=stamp,
                updated_at=stamp,
            )
            state.add_lab(record)  # before anything exists: a crash from here is reconcilable
        try:
            baseline = _create(settings, driver, store, found, plan, spec, progress)
            note = _start(settings, driver, plan, baseline, spec, progress)
            resets.verify(settings, driver, plan, progress, fix_clock=True)
        except BaseException:
            progress("lab", "failed: removing everything this clone created")
            deployment.teardown(driver, plan, settings.prefix, settings.labs_dir, plan.pool)
            state.delete_lab(lab)
            raise
        running = state.update_lab(
            state.get_lab(lab).model_copy(update={"status": LabStatus.RUNNING})
        )
        ownership.take(settings, lab, owner)
    how = f" ({note})" if note else ""
    where = "" if plan.host == LOCAL else f" on host {plan.host}"
    progress(
        "lab",
        f"cloned from template {template}{where}{how}: ready (verified) in"
        f" {time.monotonic() - started:.1f} s",
    )
    return running


def _spec_of(template: Template) -> Profile:
    if template.spec is None:
        raise LabError(
            f"template {template.name} does not record its profile",
            hint="make it again from a lab brought up by this version",
        )
    return template.spec


def _check_images(settings: Settings, template: Template) -> None:
    """The template's layers sit on base images: they must still be in the image store."""
    images = ImageStore(settings)
    for layer, digest in template.image_digests.items():
        if not images.disk_of(digest).exists():
            raise NotFoundError(
                f"the base image under layer {layer} of template {template.name} is gone"
                f" from the image store ({digest[:12]})",
                hint="delete the template and make it again from a lab on current images",
            )


def _create(
    settings: Settings,
    driver: Driver,
    store: TemplateStore,
    template: Template,
    plan: LabPlan,
    spec: Profile,
    progress: Progress,
) -> generations.Baseline:
    """Networks, keys, seeds, the template's state as the lab's baseline, overlays over
    it and domains defined like the template's; nothing started. On a lab server the
    disks, seeds and memory states are volumes of its pool (lab.templates.on_server)."""
    if plan.remote:
        plan.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        for sub in ("disks", "console"):
            (plan.directory / sub).mkdir(parents=True, exist_ok=True)
        plan.directory.chmod(0o755)
    lab_key = keys.ensure_keypair(plan.keys_dir, comment=f"hromada-lab:{plan.lab}")
    hashes = {
        account: seed.hash_password(password)
        for account, password in passwords.account_passwords(plan.keys_dir, spec).items()
    }
    deployment.create_networks(driver, plan, progress)
    if plan.remote:
        baseline = generations.template_in_force(
            plan, template.name, template.memory, template.created_at
        )
    else:
        baseline = generations.from_template(
            plan,
            template.name,
            _files(store, template),
            template.memory,
            template.created_at,
        )
    if any(m.nvram is not None for m in plan.machines):
        (plan.directory / "nvram").mkdir(mode=0o755, exist_ok=True)
    known_hosts: list[str] = []
    networks = network_names(template.plan, plan)
    for machine, theirs in zip(plan.machines, template.plan.machines, strict=True):
        paths = domain_paths(theirs, machine) | on_server.kernel_paths(
            settings, template, plan, machine
        )
        if plan.remote:
            on_server.make_generation(
                driver, machine, baseline.generation, _machine(template, machine.name)
            )
        else:
            generations.fresh_overlays(plan, machine, baseline)
            generations.restore_nvram(plan, machine, baseline)
        if machine.managed:
            assert machine.seed is not None
            host_key = keys.host_keypair(plan.keys_dir, machine.name)
            known_hosts.append(
                keys.known_hosts_line(str(machine.management_address), host_key.public_text)
            )
            seeded = deployment.seed_spec(plan, machine, spec, lab_key, host_key, hashes)
            if plan.remote:
                deployment.upload_seed(driver, plan, seeded, machine.seed)
            else:
                seed.write_seed(seeded, machine.seed)
        saved = _saved_xml(store, _machine(template, machine.name))
        driver.define_domain(
            clone_domain_xml(
                saved,
                name=machine.domain,
                uuid=str(uuid.uuid4()),
                title=f"{plan.lab}: {machine.name}",
                description=f"Hromada Lab '{plan.lab}' (profile {plan.profile}),"
                f" {'machine' if machine.managed else 'appliance'} {machine.name},"
                f" cloned from template {template.name}",
                lab=plan.lab,
                paths=paths,
                networks=networks,
            )
        )
        if plan.remote and machine.name in baseline.memory:
            # The lab's copy of the state names the domain as libvirt now describes it.
            on_server.head_state(
                driver,
                store,
                machine,
                baseline.generation,
                _machine(template, machine.name),
                driver.domain_xml(machine.domain, inactive=True),
            )
        progress(machine.name, f"defined as in template {template.name}")
    plan.known_hosts.write_text("".join(line + "\n" for line in known_hosts))
    return baseline


def _start(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    baseline: generations.Baseline,
    spec: Profile,
    progress: Progress,
) -> str:
    """Every machine restored from the template's memory state (or, failing that, booted
    from its disk) with the lab's identity; what fell back, if anything."""
    fell_back: list[str] = []

    def one(machine: MachinePlan) -> None:
        if machine.name in baseline.memory:
            try:
                restore.restore(settings, driver, plan, machine, baseline, spec)
                progress(machine.name, "restored from the template, its own identity set")
                return
            except LabError as exc:
                progress(machine.name, f"memory restore failed ({exc.message}): booting")
                resets.power_off(driver, machine)
                fell_back.append(machine.name)
        restore.boot(settings, driver, plan, machine, spec)
        progress(machine.name, "booted from the template's disk, its own identity set")

    deployment.parallel(one, plan.machines)
    if fell_back:
        return f"booted from the template's disks: {', '.join(sorted(fell_back))}"
    return ""


def _files(store: TemplateStore, template: Template) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for machine in template.machines:
        for layer in machine.layers:
            files[f"{layer.layer}.qcow2"] = store.blob(layer.digest)
        if machine.memory is not None:
            files[f"{machine.name}.sav"] = store.blob(machine.memory)
        if machine.nvram is not None:
            files[f"{machine.name}.fd"] = store.blob(machine.nvram)
    return files


def _machine(template: Template, name: str) -> TemplateMachine:
    return next(m for m in template.machines if m.name == name)


def _saved_xml(store: TemplateStore, machine: TemplateMachine) -> str:
    """The domain XML the template's machine was saved with (its memory state's header)."""
    if machine.memory is None:
        raise LabError(
            f"template machine '{machine.name}' has no memory state",
            hint="make the template from a lab whose every machine runs",
        )
    with store.blob(machine.memory).open("rb") as f:
        return saved_state.read(f).xml
