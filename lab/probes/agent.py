"""The guest-agent probe: from the host, through libvirt (the appliance needs no network)."""

from __future__ import annotations

import math

from lab.driver.connection import Driver
from lab.errors import ConflictError, InvalidError, quote
from lab.probes.model import ProbeKind, ProbeResult, ProbeSpec


def agent_probe(driver: Driver, domain: str, spec: ProbeSpec) -> ProbeResult:
    """Does the QEMU guest agent of `domain` (the libvirt name of `spec.machine`) answer?

    A domain that is not running fails the probe (while an appliance starts, that is an
    answer like any other); a domain that does not exist, one without a guest-agent
    channel, or a lost libvirt connection raise: waiting would not change them.
    """
    if spec.kind is not ProbeKind.AGENT:
        raise InvalidError(
            f"the {spec.kind.value} probe of {quote(spec.machine)} is not a guest-agent probe",
            hint="network probes run from a managed machine: lab.probes.remote.run_probes",
        )
    try:
        answered = driver.qemu_agent_ping(domain, timeout=max(1, math.ceil(spec.timeout)))
    except ConflictError:  # libvirt's "operation invalid": the domain is not running
        return ProbeResult(spec=spec, ok=False, detail="the machine is not running")
    if answered:
        return ProbeResult(spec=spec, ok=True, detail="the guest agent answered")
    return ProbeResult(
        spec=spec,
        ok=False,
        detail=f"the guest agent did not answer within {math.ceil(spec.timeout)} s"
        " (is qemu-guest-agent installed and running in the guest?)",
    )
