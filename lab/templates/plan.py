"""The plan of a lab cloned from a template (pure).

A clone is planned like any lab of the template's profile (its own names, files,
libvirt networks and management subnet), except that its machines keep the template's
MAC addresses: the memory states hold them (a restored NIC answers with the MAC it was
saved with), and each lab's networks are segments of their own, so two clones with the
same MACs never meet.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

from lab.errors import InvalidError
from lab.host.model import HostTarget
from lab.labs.plan import LabPlan, MachinePlan, NicPlan, plan_lab
from lab.profile import Profile


def clone_plan(
    template: LabPlan,
    spec: Profile,
    lab: str,
    prefix: str,
    labs_dir: Path,
    management: IPv4Network,
    target: HostTarget | None = None,
) -> LabPlan:
    """The plan of lab `lab` cloned from a template of plan `template` and profile `spec`,
    on the host `target` (None: this machine)."""
    plan = plan_lab(spec, lab, prefix, labs_dir, management, target)
    if [m.name for m in plan.machines] != [m.name for m in template.machines]:
        raise InvalidError(
            f"the template's machines ({', '.join(m.name for m in template.machines)}) are"
            " not its profile's",
            hint="the template is damaged: delete it and make it again",
        )
    machines = tuple(
        _with_macs(mine, theirs)
        for mine, theirs in zip(plan.machines, template.machines, strict=True)
    )
    return plan.model_copy(update={"machines": machines})


def _with_macs(mine: MachinePlan, theirs: MachinePlan) -> MachinePlan:
    nics = tuple(
        nic.model_copy(update={"mac": old.mac})
        for nic, old in zip(mine.nics, theirs.nics, strict=True)
    )
    management: NicPlan | None = mine.management
    if management is not None and theirs.management is not None:
        management = management.model_copy(update={"mac": theirs.management.mac})
    return mine.model_copy(update={"nics": nics, "management": management})


def domain_paths(template: MachinePlan, clone: MachinePlan) -> dict[str, str]:
    """Every file of its own the template machine's domain names -> the clone's file
    (on this machine, or in the pool of the clone's server)."""
    paths = {str(template.console_log): str(clone.console_log)}
    for (_, old), (_, new) in zip(template.layers, clone.layers, strict=True):
        paths[str(old)] = str(new)
    if template.seed is not None and clone.seed is not None:
        paths[str(template.seed)] = str(clone.seed)
    if template.nvram is not None and clone.nvram is not None:
        paths[str(template.nvram)] = str(clone.nvram)
    return paths


def network_names(template: LabPlan, clone: LabPlan) -> dict[str, str]:
    """Every libvirt network of the template's lab -> the clone's."""
    return {
        old.libvirt_name: new.libvirt_name
        for old, new in zip(template.all_networks, clone.all_networks, strict=True)
    }
