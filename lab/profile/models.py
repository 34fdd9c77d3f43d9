"""The profile models: a community's IT stack, validated once, frozen afterwards.

Field validators check each value on its own (types.py); the cross-checks between
entries (unique names, NICs on known networks, addresses inside their network) live in
checks.py so that the loader can run them over the raw YAML as well and locate every
problem of a file in one pass.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from lab.profile.appliance import Appliance, Probe
from lab.profile.checks import SKIP_CROSS_CHECKS, cross_checks, format_loc
from lab.profile.software import Software
from lab.profile.types import (
    Address,
    CheckName,
    Cidr,
    CommunityName,
    FullName,
    ImageName,
    Mac,
    MachineName,
    NetworkName,
    PlainText,
    PosixName,
    RoleName,
    Size,
    size_between,
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")

Memory = Annotated[Size, size_between("256MiB", "64GiB")]
Disk = Annotated[Size, size_between("1GiB", "2TiB")]


class CommunityKind(StrEnum):
    """What sort of community a profile mirrors."""

    RURAL = "rural"
    URBAN = "urban"
    SETTLEMENT = "settlement"
    EDUCATION = "education"


class AccountKind(StrEnum):
    """Who an account is for: community staff, a trainee in a class, or an administrator."""

    STAFF = "staff"
    TRAINEE = "trainee"
    ADMIN = "admin"


class Community(BaseModel):
    """The territorial community (hromada) a profile mirrors."""

    model_config = _FROZEN

    name: CommunityName = Field(description="DNS label used in lab names, e.g. starobilsk")
    title: PlainText = Field(min_length=1, description="Official name, any Unicode")
    oblast: PlainText = Field(min_length=1)
    kind: CommunityKind
    description: PlainText = ""


class Network(BaseModel):
    """An isolated lab network. Its first usable address belongs to the host."""

    model_config = _FROZEN

    name: NetworkName
    cidr: Cidr = Field(description="IPv4 network, prefix /16 to /29, host part zero")

    @property
    def host_address(self) -> IPv4Address:
        """The host's management address on this network (the first usable, `.1`)."""
        return self.cidr.network_address + 1


class Nic(BaseModel):
    """A machine's network card on one of the profile's networks."""

    model_config = _FROZEN

    network: NetworkName
    address: Address | None = Field(
        default=None,
        description="Static IPv4 address (optional; an appliance's: the one it is configured with)",
    )
    mac: Mac | None = Field(
        default=None, description="Keep this MAC address (an appliance's licence may be tied to it)"
    )


class Machine(BaseModel):
    """One virtual machine of the lab."""

    model_config = _FROZEN

    name: MachineName
    image: ImageName = Field(description="Image name in the image store")
    vcpus: int = Field(default=1, ge=1, le=16)
    memory: Memory = Field(description="Memory with an IEC unit, 256MiB to 64GiB")
    disk: Disk = Field(
        default=Size.parse("4GiB"), description="Disk size with an IEC unit, 1GiB to 2TiB"
    )
    nics: tuple[Nic, ...] = Field(min_length=1)
    roles: tuple[RoleName, ...] = Field(default=(), description="Ansible roles, in order")
    graphics: bool = Field(default=False, description="Give the machine a VNC display")
    appliance: Appliance | None = Field(
        default=None,
        description="A machine the lab runs as it is and does not manage (imported)",
    )
    software: tuple[Software, ...] = Field(
        default=(),
        description="The products the machine carries, as data for the catalogue",
    )

    @property
    def managed(self) -> bool:
        """Whether the lab configures and logs into this machine (not an appliance)."""
        return self.appliance is None


class Account(BaseModel):
    """A user account created on every machine of the lab."""

    model_config = _FROZEN

    name: PosixName
    full_name: FullName = ""
    kind: AccountKind
    groups: tuple[PosixName, ...] = ()
    department: PosixName | None = Field(
        default=None, description="Staff department: one file-server share per department"
    )
    sudo: bool = Field(
        default=False,
        description="May run commands as root with sudo (an admin account always may);"
        " a course's trainee who administers the machines needs it",
    )


class Check(BaseModel):
    """A verification check run inside a guest ("tests" in YAML)."""

    model_config = _FROZEN

    name: CheckName
    machine: MachineName | None = Field(default=None, description="Absent: every machine")
    run: str | None = Field(
        default=None, min_length=1, description="Shell command run inside a managed machine"
    )
    probe: Probe | None = Field(
        default=None, description="Instead of run: a probe of the machine from the lab's side"
    )
    expect_exit: int = Field(default=0, ge=0, le=255)
    expect_output: str | None = Field(default=None, description="Substring expected in stdout")
    quick: bool = Field(default=False, description="Also run after every reset")

    @model_validator(mode="after")
    def _run_or_probe(self) -> Check:
        if (self.run is None) == (self.probe is None):
            raise ValueError("a test has either `run` (a command) or `probe`, exactly one")
        if self.probe is not None and self.machine is None:
            raise ValueError("a probe test names its machine")
        return self


class Profile(BaseModel):
    """A community's IT stack: networks, machines, accounts and verification checks.

    The loader resolves `extends` before validation, so a Profile is always complete.
    """

    model_config = _FROZEN

    abstract: bool = Field(default=False, description="A shared base; cannot be brought up")
    recommended: bool = Field(
        default=False,
        description="The recommended stack: the catalogue compares every community with it",
    )
    community: Community | None = None
    networks: tuple[Network, ...] = ()
    machines: tuple[Machine, ...] = ()
    accounts: tuple[Account, ...] = ()
    tests: tuple[Check, ...] = ()

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Profile:
        context: Any = info.context
        if isinstance(context, dict) and context.get(SKIP_CROSS_CHECKS):
            return self  # the loader runs them itself, with line numbers
        problems = list(cross_checks(self.model_dump(mode="json")))
        if problems:
            raise ValueError("; ".join(f"{format_loc(loc)}: {msg}" for loc, msg in problems))
        return self

    def machine(self, name: str) -> Machine:
        """The machine called `name` (KeyError if there is none)."""
        for machine in self.machines:
            if machine.name == name:
                return machine
        raise KeyError(name)

    def network(self, name: str) -> Network:
        """The network called `name` (KeyError if there is none)."""
        for network in self.networks:
            if network.name == name:
                return network
        raise KeyError(name)

    def checks_for(self, machine: str, *, quick_only: bool = False) -> tuple[Check, ...]:
        """The command checks that run on `machine` (those naming it and those naming none;
        none on an appliance, which the lab cannot log into)."""
        if not self.machine(machine).managed:
            return ()
        return tuple(
            check
            for check in self.tests
            if check.run is not None
            and check.machine in (None, machine)
            and (check.quick or not quick_only)
        )
