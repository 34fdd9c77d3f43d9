"""An appliance's readiness and checks: its profile probes, run from the lab's side.

An appliance is never logged into. Its probes (TCP, ICMP, HTTP(S), SMB, LDAP, SQL) run on
a managed machine of the same lab that shares the probed NIC's network (the probe's
`runner`, else the first such machine; the lab's networks are segments the host has no
address on); an agent probe asks the guest agent through libvirt from the host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import groupby
from types import MappingProxyType

from lab.driver.connection import Driver
from lab.errors import InvalidError, LabError
from lab.labs import deployment, passwords
from lab.labs.plan import LabPlan, MachinePlan
from lab.probes import agent, remote, waiting
from lab.probes.model import ProbeKind, ProbeResult, ProbeSpec
from lab.profile.appliance import Probe

_PROBE_TIMEOUT = 5.0
_NO_PASSWORDS: Mapping[str, str] = MappingProxyType({})


def spec_of(
    machine: MachinePlan, probe: Probe, passwords: Mapping[str, str] = _NO_PASSWORDS
) -> ProbeSpec:
    """The probe as the probe runner takes it: the profile's NIC index becomes the
    machine's address on it, an `account` its name and the password the lab made for it
    (`passwords`: `lab.labs.passwords.known_passwords`). Pure."""
    kind = ProbeKind(probe.kind.value)
    user, password = probe.user, probe.password
    if probe.account is not None:
        user = probe.account
        password = passwords.get(probe.account)
        if password is None:
            raise InvalidError(
                f"a probe of machine '{machine.name}' logs in as account '{probe.account}',"
                " which has no password in this lab yet",
                hint="the lab makes its accounts' passwords when it is created: is the"
                " account in the profile, and was the lab brought up?",
            )
    return ProbeSpec(
        kind=kind,
        machine=machine.name,
        address=None if kind is ProbeKind.AGENT else machine.nics[probe.nic].address,
        port=probe.effective_port,
        path=probe.path,
        expect_status=probe.expect_status,
        expect_text=probe.expect_text,
        timeout=_PROBE_TIMEOUT,
        user=user,
        password=password,
        share=probe.share,
        database=probe.database,
        query=probe.query,
    )


def run_probes(
    driver: Driver, plan: LabPlan, machine: MachinePlan, probes: Sequence[Probe]
) -> tuple[ProbeResult, ...]:
    """Ask each probe once; a probe whose runner cannot be reached fails with that reason."""
    return _ask(driver, plan, machine, _planned(plan, machine, probes))


# A probe as asked: None (the host asks the guest agent) or the managed machine that runs it.
_Planned = list[tuple[MachinePlan | None, ProbeSpec]]


def _planned(plan: LabPlan, machine: MachinePlan, probes: Sequence[Probe]) -> _Planned:
    """Each probe's spec and where it runs, worked out once (it reads the lab's passwords)."""
    known = passwords.known_passwords(plan.keys_dir)
    planned: _Planned = []
    for probe in probes:
        spec = spec_of(machine, probe, known)
        runner = None
        if spec.kind is not ProbeKind.AGENT:
            runner = plan.probe_runner(machine, probe.nic, probe.runner)
        planned.append((runner, spec))
    return planned


def _ask(
    driver: Driver, plan: LabPlan, machine: MachinePlan, planned: _Planned
) -> tuple[ProbeResult, ...]:
    results = [
        agent.agent_probe(driver, machine.domain, spec)
        for runner, spec in planned
        if runner is None
    ]
    remote_probes = sorted(
        ((runner, spec) for runner, spec in planned if runner is not None),
        key=lambda item: item[0].name,
    )
    for _, group in groupby(remote_probes, key=lambda item: item[0].name):
        items = list(group)
        runner = items[0][0]
        specs = [spec for _, spec in items]
        try:
            results += remote.run_probes(
                deployment.admin_address(plan, runner), specs, timeout=_PROBE_TIMEOUT * 4
            )
        except LabError as exc:  # the runner is still booting, or is broken
            why = f"machine '{runner.name}', which runs this probe, does not answer: "
            why += exc.message.splitlines()[0]
            results += [ProbeResult(spec=spec, ok=False, detail=why) for spec in specs]
    return tuple(results)


def wait_ready(
    driver: Driver,
    plan: LabPlan,
    machine: MachinePlan,
    probes: Sequence[Probe],
    deadline: float,
    note: Callable[[str], None],
) -> tuple[ProbeResult, ...]:
    """Repeat the probes until all pass (ProbesFailedError naming those that did not)."""
    if not probes:
        return ()
    planned = _planned(plan, machine, probes)
    return waiting.wait_until_ok(lambda: _ask(driver, plan, machine, planned), deadline, note)


def ready_probes(plan: LabPlan, machine: MachinePlan, *, after_reset: bool) -> tuple[Probe, ...]:
    """What says the appliance is ready: its `ready:` probes, and after a reset also the
    quick probe tests the profile gives it."""
    assert machine.appliance is not None
    probes = tuple(machine.appliance.ready)
    if after_reset:
        probes += tuple(c.probe for c in plan.quick_probes(machine.name) if c.probe is not None)
    return probes
