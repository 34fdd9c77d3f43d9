"""What `lab up` will create for a profile, computed without touching anything (pure).

A `LabPlan` names every network, address, MAC and file of a lab. `up` carries it
out, `down` and rollback remove exactly what it names, and the state store keeps
it, so a lab can be taken down even when the profile file has changed since.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from lab.base import Frozen
from lab.errors import ConflictError, InvalidError
from lab.host.model import LOCAL, POOL, HostTarget, SshJump
from lab.labs import naming
from lab.profile import Check, Profile
from lab.profile.appliance import Appliance, Firmware

# Addresses below this offset are left for the host (.1) and for fixed services.
_FIRST_ALLOCATED = 10
# The management network's name among a lab's networks; not a DNS label, so no
# profile network can take it.
MANAGEMENT = "_mgmt"
MANAGEMENT_PREFIXLEN = 24


class NetworkPlan(Frozen):
    name: str  # as in the profile, or MANAGEMENT
    libvirt_name: str
    bridge: str
    cidr: IPv4Network
    # Only the management network has a host address; a lab's own networks are pure
    # layer-2 segments, so every seat of a class can use the profile's addresses.
    host_address: IPv4Interface | None = None


class NicPlan(Frozen):
    network: str  # as in the profile
    libvirt_network: str
    mac: str
    address: IPv4Address


class DiskPlan(Frozen):
    """A further disk of an appliance: its image and the lab's overlay over it."""

    layer: str  # its name in a baseline generation: MACHINE.diskN (no machine has a dot)
    image: str
    overlay: Path


class MachinePlan(Frozen):
    name: str
    domain: str
    image: str
    vcpus: int
    memory_mib: int
    disk_bytes: int
    graphics: bool
    roles: tuple[str, ...]
    nics: tuple[NicPlan, ...]  # the profile's NICs, in its order
    # The extra NIC on the lab's management network; None for an appliance, whose
    # hardware stays as it was installed and which the lab never logs into.
    management: NicPlan | None
    overlay: Path
    seed: Path | None  # the cloud-init seed disk; None for an appliance
    console_log: Path
    appliance: Appliance | None = None
    nvram: Path | None = None  # the UEFI variable store of a UEFI appliance
    extra_disks: tuple[DiskPlan, ...] = ()  # an appliance's further disks, in order

    @property
    def layers(self) -> tuple[tuple[str, Path], ...]:
        """Every disk as (layer name, overlay): the first disk's layer is the machine's name."""
        return ((self.name, self.overlay), *((d.layer, d.overlay) for d in self.extra_disks))

    @property
    def images(self) -> tuple[tuple[str, str], ...]:
        """Every disk as (layer name, image name)."""
        return ((self.name, self.image), *((d.layer, d.image) for d in self.extra_disks))

    @property
    def managed(self) -> bool:
        """Whether the lab configures this machine and reaches it over SSH."""
        return self.management is not None

    @property
    def management_address(self) -> IPv4Address:
        """The address the orchestrator reaches the machine on; an appliance's first
        address (the one it is known by in its lab)."""
        return self.management.address if self.management is not None else self.nics[0].address

    @property
    def all_nics(self) -> tuple[NicPlan, ...]:
        return (*self.nics, self.management) if self.management is not None else self.nics


class LabPlan(Frozen):
    lab: str
    profile: str
    directory: Path
    networks: tuple[NetworkPlan, ...]  # the profile's
    management: NetworkPlan
    machines: tuple[MachinePlan, ...]
    checks: tuple[Check, ...] = ()  # the profile's verification tests, as deployed
    # The lab host its machines and networks are on (lab.host), and on another server
    # how its guests are reached; the machines' files are then in that server's pool.
    host: str = LOCAL
    jump: SshJump | None = None

    @property
    def remote(self) -> bool:
        """Whether the lab is on another server than this machine."""
        return self.host != LOCAL

    @property
    def pool(self) -> str | None:
        """The storage pool the lab's files are volumes of (its server's); None on this
        machine, where they are files under its directory."""
        return POOL if self.remote else None

    def quick_checks(self, machine: str) -> tuple[Check, ...]:
        """The command checks that run after every reset on the managed machine `machine`."""
        if not self.machine(machine).managed:
            return ()
        return tuple(
            c for c in self.checks if c.quick and c.run is not None and c.machine in (None, machine)
        )

    def quick_probes(self, machine: str) -> tuple[Check, ...]:
        """The probe checks of `machine` that run after every reset."""
        return tuple(
            c for c in self.checks if c.quick and c.probe is not None and c.machine == machine
        )

    @property
    def managed_machines(self) -> tuple[MachinePlan, ...]:
        return tuple(m for m in self.machines if m.managed)

    @property
    def appliances(self) -> tuple[MachinePlan, ...]:
        return tuple(m for m in self.machines if not m.managed)

    def probe_runner(
        self, machine: MachinePlan, nic: int, preferred: str | None = None
    ) -> MachinePlan:
        """The managed machine that probes `machine` on its NIC `nic`: `preferred` (the
        probe's `runner`), else the first one with a NIC on the same network (the lab's
        networks are segments the host is not on)."""
        network = machine.nics[nic].network
        for other in self.managed_machines:
            if preferred is not None and other.name != preferred:
                continue
            if any(n.network == network for n in other.nics):
                return other
        if preferred is not None:
            raise InvalidError(
                f"machine '{preferred}' of lab '{self.lab}' cannot run this probe of machine"
                f" '{machine.name}': it is not a managed machine on network '{network}'",
                hint="name a managed machine with a NIC on that network as the runner",
            )
        raise InvalidError(
            f"no managed machine of lab '{self.lab}' is on network '{network}' to probe"
            f" machine '{machine.name}' from",
            hint="add a managed machine on that network to the profile, or use an agent probe",
        )

    @property
    def all_networks(self) -> tuple[NetworkPlan, ...]:
        return (*self.networks, self.management)

    @property
    def keys_dir(self) -> Path:
        return self.directory / "keys"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    def machine(self, name: str) -> MachinePlan:
        for m in self.machines:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.machines)
        raise InvalidError(
            f"lab '{self.lab}' has no machine '{name}'", hint=f"its machines: {known}"
        )


def plan_lab(
    profile: Profile,
    lab: str,
    prefix: str,
    labs_dir: Path,
    management: IPv4Network,
    target: HostTarget | None = None,
) -> LabPlan:
    """Every name, address and path of lab `lab` deployed from `profile`.

    `management` is the lab's own management subnet (see `allocate_management`).
    `target`: the host it goes on (None: this machine). The lab's keys and SSH files are
    always under `labs_dir` here; its machines' files are under it only on this machine,
    on another server they are volumes in that server's pool, named after their domain.
    """
    naming.check_lab_name(lab)
    if profile.abstract or not profile.machines:
        raise InvalidError(
            f"profile '{profile_name(profile)}' is abstract and cannot be brought up",
            hint="bring up a profile that extends it",
        )
    for net in profile.networks:
        if net.cidr.overlaps(management):
            raise InvalidError(
                f"network '{net.name}' ({net.cidr}) overlaps the lab's management network"
                f" {management}",
                hint="give the profile network another range, or move LAB_MGMT_POOL",
            )
    directory = labs_dir / lab
    target = target or HostTarget()

    def file(domain: str, machine: str, local: str, remote: str) -> Path:
        if target.pool_path is None:
            return directory / local.format(machine=machine)
        return target.pool_path / f"{domain}.{remote}"

    networks = tuple(
        _network(prefix, lab, net.name, net.cidr, host=False) for net in profile.networks
    )
    mgmt = _network(prefix, lab, MANAGEMENT, management, host=True)
    by_name = {n.name: n for n in networks}
    addresses = allocate_addresses(profile)
    machines = []
    for position, machine in enumerate(profile.machines):
        nics = tuple(
            NicPlan(
                network=nic.network,
                libvirt_network=by_name[nic.network].libvirt_name,
                mac=nic.mac or naming.mac_address(lab, machine.name, index),
                address=addresses[(machine.name, index)],
            )
            for index, nic in enumerate(machine.nics)
        )
        management_nic = None
        if machine.managed:
            management_nic = NicPlan(
                network=MANAGEMENT,
                libvirt_network=mgmt.libvirt_name,
                mac=naming.mac_address(lab, machine.name, MANAGEMENT),
                address=management.network_address + _FIRST_ALLOCATED + position,
            )
        uefi = machine.appliance is not None and machine.appliance.firmware is Firmware.UEFI
        domain = naming.domain_name(prefix, lab, machine.name)
        machines.append(
            MachinePlan(
                name=machine.name,
                domain=domain,
                image=machine.image,
                vcpus=machine.vcpus,
                memory_mib=machine.memory.mib,
                disk_bytes=int(machine.disk),
                graphics=machine.graphics or not machine.managed,  # an appliance: VNC always
                roles=tuple(machine.roles),
                nics=nics,
                management=management_nic,
                overlay=file(domain, machine.name, "disks/{machine}.qcow2", "qcow2"),
                seed=(
                    file(domain, machine.name, "disks/{machine}-seed.iso", "seed.iso")
                    if machine.managed
                    else None
                ),
                console_log=file(domain, machine.name, "console/{machine}.log", "console.log"),
                appliance=machine.appliance,
                nvram=file(domain, machine.name, "nvram/{machine}.fd", "nvram.fd")
                if uefi
                else None,
                extra_disks=tuple(
                    DiskPlan(
                        layer=f"{machine.name}.disk{n}",
                        image=image,
                        overlay=file(
                            domain,
                            machine.name,
                            f"disks/{{machine}}.disk{n}.qcow2",
                            f"disk{n}.qcow2",
                        ),
                    )
                    for n, image in enumerate(
                        machine.appliance.extra_disks if machine.appliance else (), start=2
                    )
                ),
            )
        )
    if len(machines) + _FIRST_ALLOCATED >= management.num_addresses - 1:
        raise InvalidError(
            f"profile '{profile_name(profile)}' has more machines than a management network"
            f" of {management} can address",
            hint="split the profile into smaller ones",
        )
    return LabPlan(
        lab=lab,
        profile=profile_name(profile),
        directory=directory,
        networks=networks,
        management=mgmt,
        machines=tuple(machines),
        checks=profile.tests,
        host=target.name,
        jump=target.jump,
    )


def allocate_management(pool: IPv4Network, used: set[IPv4Network]) -> IPv4Network:
    """The first /24 of `pool` that overlaps nothing in `used` (other labs' and other
    networks' subnets)."""
    for subnet in pool.subnets(new_prefix=MANAGEMENT_PREFIXLEN):
        if not any(subnet.overlaps(taken) for taken in used):
            return subnet
    raise ConflictError(
        f"every management network of LAB_MGMT_POOL ({pool}) is taken",
        hint="take labs down (`lab list`), or give LAB_MGMT_POOL a larger range",
    )


def _network(prefix: str, lab: str, name: str, cidr: IPv4Network, *, host: bool) -> NetworkPlan:
    libvirt_name = naming.network_name(prefix, lab, name)
    return NetworkPlan(
        name=name,
        libvirt_name=libvirt_name,
        bridge=naming.bridge_name(libvirt_name),
        cidr=cidr,
        host_address=(IPv4Interface(f"{host_address(cidr)}/{cidr.prefixlen}") if host else None),
    )


def profile_name(profile: Profile) -> str:
    return profile.community.name if profile.community else "abstract"


def host_address(cidr: IPv4Network) -> IPv4Address:
    """The host's management address on a lab network: the first usable one."""
    return cidr.network_address + 1


def allocate_addresses(profile: Profile) -> dict[tuple[str, int], IPv4Address]:
    """An address for every NIC: the profile's own, else the next free one from .10 up.

    Deterministic: the same profile always yields the same addresses, so every
    seat of a class looks the same inside.
    """
    nets = {n.name: n.cidr for n in profile.networks}
    taken: dict[str, set[IPv4Address]] = {name: set() for name in nets}
    result: dict[tuple[str, int], IPv4Address] = {}
    for machine in profile.machines:
        for index, nic in enumerate(machine.nics):
            if nic.address is not None:
                result[(machine.name, index)] = nic.address
                taken[nic.network].add(nic.address)
    for machine in profile.machines:
        for index, nic in enumerate(machine.nics):
            if (machine.name, index) in result:
                continue
            cidr = nets[nic.network]
            candidate = cidr.network_address + _FIRST_ALLOCATED
            while candidate in taken[nic.network]:
                candidate += 1
            if candidate >= cidr.broadcast_address:
                raise InvalidError(
                    f"network '{nic.network}' ({cidr}) has no free address for"
                    f" machine '{machine.name}'",
                    hint="use a larger network in the profile or give static addresses",
                )
            result[(machine.name, index)] = candidate
            taken[nic.network].add(candidate)
    return result
