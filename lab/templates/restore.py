"""Bringing a machine of a clone back to its template's state: from memory, or booted.

Both end with the machine holding the clone's own identity (lab.templates.identity):
a restored memory state, or a boot from the template's disk layer, is the template's
machine until then. An appliance keeps its own: the lab never logs into it.
"""

from __future__ import annotations

from lab.baselines import on_server
from lab.baselines.generations import Baseline
from lab.driver.connection import Driver
from lab.labs.plan import LabPlan, MachinePlan
from lab.profile import Profile
from lab.settings import Settings
from lab.templates.identity import identity_of, set_identity

# How long a restored machine's guest agent may take to answer (it answers within a
# second here); a booted one gets the boot timeout.
_AGENT_DEADLINE = 60.0


def restore(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    machine: MachinePlan,
    baseline: Baseline,
    spec: Profile,
) -> None:
    """Restore the machine's memory state from the template's, into the lab's own domain
    (defined like the template's, see lab.driver.domain_xml.clone_domain_xml), then give
    it the clone's identity. The machine is off and has a fresh disk. On a lab server the
    lab's copy of the state names its domain already (lab.templates.on_server)."""
    if plan.remote:
        driver.restore_domain(on_server.memory_state(machine, baseline.generation), machine.domain)
    else:
        xml = driver.domain_xml(machine.domain, inactive=True)
        driver.restore_domain_as(baseline.memory_state(plan, machine.name), xml, plan.directory)
    identify(settings, driver, plan, machine, spec, _AGENT_DEADLINE)


def boot(
    settings: Settings, driver: Driver, plan: LabPlan, machine: MachinePlan, spec: Profile
) -> None:
    """Boot the machine (off, on a fresh overlay over the template's layer), then give it
    the clone's identity once its guest agent answers. cloud-init already gives it the
    lab's address and host key (its seed is the lab's); the rest comes from the script."""
    driver.start_domain(machine.domain)
    identify(settings, driver, plan, machine, spec, settings.boot_timeout)


def identify(
    settings: Settings,
    driver: Driver,
    plan: LabPlan,
    machine: MachinePlan,
    spec: Profile,
    deadline: float = _AGENT_DEADLINE,
) -> None:
    """Give a machine that runs as the template's the clone's own identity (an appliance
    keeps its own)."""
    if machine.managed:
        set_identity(
            driver, machine, identity_of(plan, machine, spec, settings.playbooks_dir), deadline
        )
