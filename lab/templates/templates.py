"""Use cases of templates: take one from a verified lab, list, show and delete them.

A template is taken from the baseline in force of a verified lab: that state passed the
lab's tests, and its memory states are what clones resume. Its files are linked into the
template store (no copy on the same file system), so the source lab may be reset, taken
down or baselined again without touching the template.
"""

from __future__ import annotations

import hashlib
import json

from lab.base import Progress, quiet
from lab.baselines import generations
from lab.errors import ConflictError, NotFoundError
from lab.host import targets
from lab.labs.locks import NAMES, lab_lock
from lab.labs.plan import LabPlan
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.store.state import StateStore, now
from lab.templates import on_server
from lab.templates.model import Template, TemplateInfo, TemplateLayer, TemplateMachine
from lab.templates.store import TemplateStore, check_template_name, digests_of


def create(settings: Settings, lab: str, name: str, progress: Progress = quiet) -> Template:
    """A template `name` from lab `lab`'s baseline in force. ConflictError when the lab
    is not verified or has no baseline, or a template of that name exists."""
    check_template_name(name)
    store = TemplateStore(settings)
    _check_free(store, name)
    state = StateStore.open(settings)
    # Under the store's lock too: a template deleted meanwhile collects unreferenced
    # blobs, which this one's are until its manifest is written.
    with lab_lock(settings, lab), store.lock():
        _check_free(store, name)
        record = state.get_lab(lab)
        baseline = _baseline_of(record)
        plan = record.plan
        if plan.remote:  # its files are brought from its server (lab.templates.on_server)
            with targets.connect(settings, record.host) as driver:
                machines = on_server.take_generation(
                    settings, driver, store, record, baseline, progress
                )
        else:
            machines = _take_here(store, plan, baseline, name, progress)
        content = json.dumps(
            {
                "machines": [m.model_dump() for m in machines],
                "plan": plan.model_dump(mode="json"),
                "spec": record.spec.model_dump(mode="json") if record.spec else None,
            },
            sort_keys=True,
        )
        template = Template(
            name=name,
            digest=hashlib.sha256(content.encode()).hexdigest(),
            source_lab=lab,
            profile=record.profile,
            created_at=now(),
            plan=plan,
            spec=record.spec,
            profile_path=record.profile_path,
            image_digests=record.image_digests,
            verification=record.verification,
            machines=tuple(machines),
            size=store.size_of(digests_of(machines)),
        )
        store.put_manifest(template)
    progress("lab", f"template {name} made from lab {lab} ({template.size / 2**20:.0f} MiB)")
    return template


def _take_here(
    store: TemplateStore,
    plan: LabPlan,
    baseline: generations.Baseline,
    name: str,
    progress: Progress,
) -> list[TemplateMachine]:
    """The files of `baseline` (a generation of a lab on this machine) linked into the
    template store; what the manifest names of each machine."""
    machines = []
    for machine in plan.machines:
        layers = tuple(
            TemplateLayer(layer=layer, digest=store.put_file(baseline.disk(plan, layer)))
            for layer, _ in machine.layers
        )
        memory = None
        if machine.name in baseline.memory:
            memory = store.put_file(baseline.memory_state(plan, machine.name))
        nvram = None
        if baseline.nvram(plan, machine.name).exists():
            nvram = store.put_file(baseline.nvram(plan, machine.name))
        machines.append(
            TemplateMachine(name=machine.name, layers=layers, memory=memory, nvram=nvram)
        )
        held = "disk and memory" if memory else "disk"
        progress(machine.name, f"{held} stored in template {name}")
    return machines


def list_templates(settings: Settings) -> list[TemplateInfo]:
    store = TemplateStore(settings)
    labs = StateStore.open(settings).list_labs()
    return [_info(store, t, labs) for t in store.templates()]


def get_template(settings: Settings, name: str) -> TemplateInfo:
    """NotFoundError when there is none of that name."""
    store = TemplateStore(settings)
    return _info(store, store.get(name), StateStore.open(settings).list_labs())


def delete(settings: Settings, name: str) -> None:
    """Remove the template; ConflictError (naming the labs) while a lab is cloned from it."""
    store = TemplateStore(settings)
    store.get(name)
    # Under the names lock: a clone records its lab (naming the template) under it.
    with lab_lock(settings, NAMES, wait=60):
        users = used_by(settings, name)
        if users:
            raise ConflictError(
                f"template {name} is in use by lab(s): {', '.join(users)}",
                hint="take those labs down first (lab down LAB, or lab class delete CLASS)",
            )
        held = digests_of(store.get(name).machines)
        store.remove(name)
        kept = {d for t in store.templates() for d in digests_of(t.machines)}
    # Lab servers keep copies of a template's files for its clones there.
    on_server.forget(settings, held - kept)


def used_by(settings: Settings, name: str) -> list[str]:
    """The labs cloned from template `name`."""
    return sorted(r.name for r in StateStore.open(settings).list_labs() if r.template == name)


def check_free(settings: Settings, name: str) -> None:
    """ConflictError when a template of that name exists (an API answers it at once)."""
    try:
        get_template(settings, name)
    except NotFoundError:
        return
    raise ConflictError(
        f"a template named {name} exists already",
        hint=f"choose another name, or delete it first: lab template delete {name}",
    )


def _check_free(store: TemplateStore, name: str) -> None:
    if store.find(name) is not None:
        raise ConflictError(
            f"a template named {name} exists already",
            hint=f"choose another --name, or delete it first: lab template delete {name}",
        )


def _baseline_of(record: LabRecord) -> generations.Baseline:
    """The lab's baseline in force, if the lab was verified and has one of its own."""
    if record.verification is None or not record.verification.passed:
        raise ConflictError(
            f"lab '{record.name}' is not verified: a template is taken only from a lab that"
            " passed its tests",
            hint=f"run its tests, then baseline it: lab test {record.name}; "
            f"lab baseline {record.name}",
        )
    baseline = generations.current(record.plan)
    if baseline is None:
        raise ConflictError(
            f"lab '{record.name}' has no baseline: a template is made of its baseline",
            hint=f"take one first: lab baseline {record.name}",
        )
    missing = [m.name for m in record.plan.machines if m.name not in baseline.memory]
    if missing:
        raise ConflictError(
            f"the baseline of lab '{record.name}' holds no memory state of"
            f" {', '.join(missing)}: a template's machines are restored, not booted",
            hint=f"start the lab and baseline it again: lab start {record.name};"
            f" lab baseline {record.name}",
        )
    if baseline.template is not None:
        raise ConflictError(
            f"lab '{record.name}' is still at the state of template {baseline.template}",
            hint=f"clone that template instead, or take the lab's own baseline first:"
            f" lab baseline {record.name}",
        )
    return baseline


def _info(store: TemplateStore, template: Template, labs: list[LabRecord]) -> TemplateInfo:
    return TemplateInfo(
        name=template.name,
        digest=template.digest,
        profile=template.profile,
        source_lab=template.source_lab,
        created_at=template.created_at,
        machines=tuple(m.name for m in template.machines),
        memory=template.memory,
        size=store.size_of(digests_of(template.machines)),
        used_by=tuple(sorted(r.name for r in labs if r.template == template.name)),
    )
