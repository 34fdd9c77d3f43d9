"""Names of everything the orchestrator creates, derived from one lab name (pure).

Every libvirt object carries the project prefix (`LAB_PREFIX`, default `hl-`) and
the lab name, joined to the profile's own names with a dot. DNS labels never
contain dots, so `hl-demo.m1` always splits back into lab `demo`, machine `m1`.
"""

from __future__ import annotations

import hashlib
import re

from lab.errors import InvalidError, quote

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
MAX_LAB_NAME = 32


def check_lab_name(name: str) -> str:
    """Return `name` if it is a valid lab name (a DNS label of up to 32 chars)."""
    if not _LABEL.fullmatch(name):
        raise InvalidError(
            f"{quote(name)} is not a valid lab name",
            hint=f"use 1 to {MAX_LAB_NAME} lower-case letters, digits and '-',"
            " starting and ending with a letter or digit (e.g. starobilsk-01)",
        )
    return name


def valid_lab_name(name: str) -> bool:
    return _LABEL.fullmatch(name) is not None


def domain_name(prefix: str, lab: str, machine: str) -> str:
    return f"{prefix}{lab}.{machine}"


def network_name(prefix: str, lab: str, network: str) -> str:
    return f"{prefix}{lab}.{network}"


def split_name(prefix: str, libvirt_name: str) -> tuple[str, str] | None:
    """(lab, member) of a name this project made, or None for anything else."""
    if not libvirt_name.startswith(prefix):
        return None
    lab, dot, member = libvirt_name[len(prefix) :].partition(".")
    if not dot or not _LABEL.fullmatch(lab) or not member:
        return None
    return lab, member


def mac_address(lab: str, machine: str, nic: int | str) -> str:
    """A stable MAC in QEMU's 52:54:00 range for NIC `nic` (index or role) of a machine."""
    digest = hashlib.sha256(f"{lab}\0{machine}\0{nic}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


_MAX_BRIDGE = 15  # IFNAMSIZ - 1: the kernel refuses longer interface names.


def bridge_name(network_name: str) -> str:
    """A Linux bridge name (at most 15 characters) derived from a network's name.

    Short names stay readable (`hlb-<name>`); longer ones keep a readable head plus a
    hash of the whole name, so two long names with the same head still differ.
    """
    plain = f"hlb-{network_name}"
    if len(plain) <= _MAX_BRIDGE and re.fullmatch(r"[A-Za-z0-9_.-]+", plain):
        return plain
    digest = hashlib.sha256(network_name.encode()).hexdigest()[:6]
    head = re.sub(r"[^A-Za-z0-9]", "", network_name)[:4]
    return f"hlb-{head}-{digest}"
