"""What starting a lab from a catalogue profile would make, planned without making it.

The same planning functions `lab up` uses (lab.labs.plan), on a management network of
the pool's first range: the profile's own addresses are as they will be, the management
addresses only an example (a real lab gets the first range no other lab holds). Nothing
is created, nothing is read but the profile. Accounts are named with their groups, never
a password.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from lab.base import Frozen
from lab.labs.plan import MANAGEMENT_PREFIXLEN, plan_lab
from lab.labs.topology import Topology, TopologyAddress, TopologyNetwork, topology
from lab.profile import catalogue
from lab.settings import Settings


class MachinePreview(Frozen):
    name: str
    image: str
    memory_mib: int
    vcpus: int
    roles: tuple[str, ...]
    appliance: bool
    addresses: tuple[TopologyAddress, ...]
    management_address: IPv4Address


class AccountPreview(Frozen):
    name: str
    kind: str
    groups: tuple[str, ...]


class TestPreview(Frozen):
    __test__ = False  # not a pytest class

    name: str
    machine: str | None  # None: every managed machine
    kind: str  # "run" (a command in the guest) or "probe" (from the lab's side)
    quick: bool  # also after every reset


class SoftwarePreview(Frozen):
    machine: str
    product: str
    vendor: str
    version: str


class ProfilePreview(Frozen):
    profile: str  # its name in the catalogue (what a lab is started from)
    community: str
    title: str
    machines: tuple[MachinePreview, ...]
    networks: tuple[TopologyNetwork, ...]
    accounts: tuple[AccountPreview, ...]
    tests: tuple[TestPreview, ...]
    software: tuple[SoftwarePreview, ...]
    topology: Topology


def preview(settings: Settings, name: str) -> ProfilePreview:
    """What a lab of catalogue profile `name` would be (NotFoundError, InvalidError)."""
    profile = catalogue.get_profile(settings, name)
    management = next(settings.mgmt_pool.subnets(new_prefix=MANAGEMENT_PREFIXLEN))
    plan = plan_lab(profile, name, settings.prefix, settings.labs_dir, management)
    picture = topology(plan)
    by_name = {m.name: m for m in picture.machines}
    return ProfilePreview(
        profile=name,
        community=plan.profile,
        title=profile.community.title if profile.community else "",
        machines=tuple(
            MachinePreview(
                name=m.name,
                image=m.image,
                memory_mib=m.memory_mib,
                vcpus=m.vcpus,
                roles=m.roles,
                appliance=not m.managed,
                addresses=by_name[m.name].addresses,
                management_address=m.management_address,
            )
            for m in plan.machines
        ),
        networks=picture.networks,
        accounts=tuple(
            AccountPreview(name=a.name, kind=str(a.kind), groups=a.groups) for a in profile.accounts
        ),
        tests=tuple(
            TestPreview(
                name=c.name,
                machine=c.machine,
                kind="run" if c.run is not None else "probe",
                quick=c.quick,
            )
            for c in profile.tests
        ),
        software=tuple(
            SoftwarePreview(machine=m.name, product=s.product, vendor=s.vendor, version=s.version)
            for m in profile.machines
            for s in m.software
        ),
        topology=picture,
    )
