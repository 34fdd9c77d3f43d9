"""Appliances: a community's own machines, which the lab runs as they are.

A machine with an `appliance:` section is not managed: no cloud-init seed, no SSH
provisioning, no lab accounts, no management NIC. The profile describes the hardware the
machine was installed on (firmware, machine type, disk bus, NIC model, display), the
addresses it is configured with (on its NICs, as data), the logins its vendor documents,
and the probes that tell when it is ready. Probes run from the lab's side: from a
managed machine of the same lab, or, for the guest agent, from the host.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from lab.profile.types import ImageName, MachineName, PlainText, PosixName, fail, shown

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Firmware(StrEnum):
    """How the machine starts: legacy BIOS (SeaBIOS) or UEFI (OVMF, NVRAM kept per machine)."""

    BIOS = "bios"
    UEFI = "uefi"


class MachineType(StrEnum):
    """The emulated chipset: `pc` (i440fx, has IDE) or `q35` (PCIe, SATA built in)."""

    PC = "pc"
    Q35 = "q35"


class DiskBus(StrEnum):
    """What the machine's disks hang on. Only `virtio` needs drivers in the guest."""

    VIRTIO = "virtio"
    SATA = "sata"
    SCSI = "scsi"
    IDE = "ide"


class NicModel(StrEnum):
    """The emulated network card. Windows and most appliances have e1000e drivers built in."""

    VIRTIO = "virtio"
    E1000E = "e1000e"
    E1000 = "e1000"
    RTL8139 = "rtl8139"


class VideoModel(StrEnum):
    VGA = "vga"
    QXL = "qxl"
    VIRTIO = "virtio"
    CIRRUS = "cirrus"


class ProbeKind(StrEnum):
    """What a probe asks: a TCP port open, an ICMP echo, an HTTP(S) page, the guest agent,
    or, with a client of the checking machine, an SMB listing, an LDAP bind, an SQL query."""

    TCP = "tcp"
    ICMP = "icmp"
    HTTP = "http"
    HTTPS = "https"
    AGENT = "agent"
    SMB = "smb"
    LDAP = "ldap"
    SQL = "sql"


_URL_PATH = re.compile(r"^/[\x21-\x7e]{0,199}$")


def _url_path(value: str) -> str:
    if not _URL_PATH.fullmatch(value):
        raise fail(
            "path",
            f"{shown(value)} is not a URL path: start with '/', printable ASCII, no spaces,"
            " at most 200 characters",
        )
    return value


UrlPath = Annotated[str, AfterValidator(_url_path)]
_DEFAULT_PORTS = {
    ProbeKind.HTTP: 80,
    ProbeKind.HTTPS: 443,
    ProbeKind.SMB: 445,
    ProbeKind.LDAP: 389,
    ProbeKind.SQL: 5432,
}
_CLIENTS = (ProbeKind.SMB, ProbeKind.LDAP, ProbeKind.SQL)


def _one_line(value: str) -> str:
    if not value.isprintable():
        raise fail("text", "write it on one line, with printable characters only")
    return value


def _probe_user(value: str) -> str:
    if value.startswith("-"):
        raise fail("user", f"{shown(value)} cannot start with '-'")
    return value


OneLine = Annotated[PlainText, AfterValidator(_one_line)]
ProbeUser = Annotated[OneLine, AfterValidator(_probe_user)]


class Probe(BaseModel):
    """A question asked of a machine from the lab's side, without logging in to it."""

    model_config = _FROZEN

    kind: ProbeKind
    nic: int = Field(default=0, ge=0, le=15, description="Which NIC's address (0: the first)")
    port: int | None = Field(default=None, ge=1, le=65535, description="tcp: required")
    path: UrlPath = Field(default="/", description="http/https: the page asked for")
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_text: PlainText | None = Field(
        default=None,
        max_length=200,
        description="http/https: text the page must contain; smb/ldap/sql: the client's output",
    )
    user: ProbeUser | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="smb/sql: the user; ldap: the DN to bind as (else an anonymous bind)",
    )
    password: OneLine | None = Field(
        default=None, max_length=128, repr=False, description="smb/ldap/sql: the user's"
    )
    account: PosixName | None = Field(
        default=None,
        description="smb/ldap/sql: a lab account, with the password the lab made for it",
    )
    share: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._$-]{1,80}$",
        description="smb: list this share (else the server's shares)",
    )
    database: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$", description="sql: required"
    )
    query: OneLine | None = Field(
        default=None, min_length=1, max_length=500, description="sql: required, e.g. select 1"
    )
    runner: MachineName | None = Field(
        default=None,
        description="The managed machine that runs the probe (else the first on the network)",
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        web = self.kind in (ProbeKind.HTTP, ProbeKind.HTTPS)
        client = self.kind in _CLIENTS
        if self.kind is ProbeKind.TCP and self.port is None:
            raise ValueError("a tcp probe needs a port")
        if self.kind in (ProbeKind.ICMP, ProbeKind.AGENT) and self.port is not None:
            raise ValueError(f"a {self.kind} probe has no port")
        if not web and self.path != "/":
            raise ValueError(f"path belongs to http/https probes, not {self.kind}")
        if not web and not client and self.expect_text is not None:
            raise ValueError(f"expect_text belongs to http/https/smb/ldap/sql, not {self.kind}")
        if self.kind is ProbeKind.AGENT and self.runner is not None:
            raise ValueError("an agent probe is asked from the host: it has no runner")
        self._fits_client(client)
        return self

    def _fits_client(self, client: bool) -> None:
        given = [
            name
            for name in ("user", "password", "account", "share", "database", "query")
            if getattr(self, name) is not None
        ]
        if not client:
            if given:
                raise ValueError(f"{given[0]} belongs to smb/ldap/sql probes, not {self.kind}")
            return
        if self.account is not None and (self.user is not None or self.password is not None):
            raise ValueError("give either account, or user and password: not both")
        if self.password is not None and self.user is None:
            raise ValueError("a password needs a user")
        if self.kind is ProbeKind.SMB and self.user is not None and "%" in self.user:
            raise ValueError("an SMB user cannot contain '%' (smbclient reads it as user%password)")
        if self.share is not None and self.kind is not ProbeKind.SMB:
            raise ValueError(f"share belongs to smb probes, not {self.kind}")
        if self.kind is not ProbeKind.SQL and (self.database, self.query) != (None, None):
            raise ValueError(f"database and query belong to sql probes, not {self.kind}")
        if self.kind is ProbeKind.SQL and (
            self.database is None
            or self.query is None
            or (self.user is None and self.account is None)
        ):
            raise ValueError("an sql probe needs a database, a query, and a user or an account")

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else _DEFAULT_PORTS.get(self.kind)


class ApplianceLogin(BaseModel):
    """A login the machine's vendor or owner documents (shown on the access sheet as data)."""

    model_config = _FROZEN

    user: PlainText = Field(min_length=1, max_length=64)
    password: PlainText = Field(default="", max_length=128)
    note: PlainText = Field(default="", max_length=200, description="e.g. 'web UI, port 80'")


class Appliance(BaseModel):
    """The hardware an imported machine expects, and how the lab sees it is ready."""

    model_config = _FROZEN

    firmware: Firmware = Firmware.BIOS
    machine_type: MachineType = MachineType.PC
    disk_bus: DiskBus = DiskBus.SATA
    nic_model: NicModel = NicModel.E1000E
    video: VideoModel = VideoModel.VGA
    tablet: bool = Field(default=True, description="USB tablet: a pointer that follows VNC")
    guest_agent: bool = Field(
        default=False, description="The guest runs the QEMU guest agent (clock, agent probe)"
    )
    extra_disks: tuple[ImageName, ...] = Field(
        default=(), max_length=8, description="Images of the further disks, in order"
    )
    logins: tuple[ApplianceLogin, ...] = Field(default=(), max_length=16)
    ready: tuple[Probe, ...] = Field(
        default=(), max_length=16, description="All must pass before the machine is ready"
    )

    @model_validator(mode="after")
    def _bootable(self) -> Self:
        if self.disk_bus is DiskBus.IDE and len(self.extra_disks) > 3:
            raise ValueError("an IDE controller takes four disks: use disk_bus sata")
        if self.disk_bus is DiskBus.IDE and self.machine_type is MachineType.Q35:
            raise ValueError("disk_bus ide needs machine_type pc: q35 has no IDE controller")
        if self.disk_bus is DiskBus.SCSI and self.firmware is Firmware.UEFI:
            raise ValueError(
                "firmware uefi cannot boot from the SCSI controller (LSI Logic) the lab"
                " gives such disks: use disk_bus sata, or firmware bios"
            )
        if any(p.kind is ProbeKind.AGENT for p in self.ready) and not self.guest_agent:
            raise ValueError("an agent probe needs guest_agent: true")
        return self
