"""A lab as a picture's data: its networks and its machines on them (pure).

Built from a `LabPlan` alone, so a profile's preview and a running lab are drawn the
same way: every network with its range, every machine with its roles, whether it is an
appliance (the lab does not manage it), its address on each network and the address the
orchestrator reaches it on.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from lab.base import Frozen
from lab.labs.plan import LabPlan


class TopologyNetwork(Frozen):
    name: str  # as in the profile
    cidr: IPv4Network


class TopologyAddress(Frozen):
    network: str  # as in the profile
    address: IPv4Address


class TopologyMachine(Frozen):
    name: str
    roles: tuple[str, ...]
    appliance: bool  # run as it is: the lab never logs into it
    addresses: tuple[TopologyAddress, ...]  # one per NIC, in the profile's order
    management_address: IPv4Address


class Topology(Frozen):
    lab: str
    profile: str
    networks: tuple[TopologyNetwork, ...]  # the profile's own, not the management network
    management: IPv4Network
    machines: tuple[TopologyMachine, ...]


def topology(plan: LabPlan) -> Topology:
    """The picture's data of the lab `plan` makes."""
    return Topology(
        lab=plan.lab,
        profile=plan.profile,
        networks=tuple(TopologyNetwork(name=n.name, cidr=n.cidr) for n in plan.networks),
        management=plan.management.cidr,
        machines=tuple(
            TopologyMachine(
                name=m.name,
                roles=m.roles,
                appliance=not m.managed,
                addresses=tuple(
                    TopologyAddress(network=nic.network, address=nic.address) for nic in m.nics
                ),
                management_address=m.management_address,
            )
            for m in plan.machines
        ),
    )
