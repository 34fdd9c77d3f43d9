"""cloud-init NoCloud seeds: what a machine is told on its first boot.

The documents are built as data and dumped with yaml.safe_dump, never formatted as
strings, so no value from a profile (a full name, a hostname) can add a key or a line.
The seed also carries the static network configuration (version 2, matched by MAC):
no lab network runs DHCP.
"""

from __future__ import annotations

import tempfile
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from lab.run import run


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SeedAccount(_Frozen):
    name: str
    full_name: str = ""
    groups: tuple[str, ...] = ()
    sudo: bool = False
    ssh_keys: tuple[str, ...] = ()


class SeedInterface(_Frozen):
    mac: str
    address: IPv4Interface


class SeedSpec(_Frozen):
    hostname: str
    instance_id: str
    admin_user: str = "labadmin"
    authorized_keys: tuple[str, ...]
    host_key: tuple[str, str] | None = None  # (private OpenSSH text, public text)
    accounts: tuple[SeedAccount, ...] = ()
    interfaces: tuple[SeedInterface, ...] = ()
    timezone: str = "Europe/Kyiv"


def user_data(spec: SeedSpec) -> dict[str, Any]:
    users: list[Any] = [
        {
            "name": spec.admin_user,
            "gecos": "Hromada Lab management",
            "shell": "/bin/bash",
            "sudo": "ALL=(ALL) NOPASSWD:ALL",
            "lock_passwd": True,
            "ssh_authorized_keys": list(spec.authorized_keys),
        }
    ]
    groups = sorted({g for a in spec.accounts for g in a.groups})
    for account in spec.accounts:
        user: dict[str, Any] = {
            "name": account.name,
            "gecos": account.full_name,
            "shell": "/bin/bash",
            "lock_passwd": True,
            "ssh_authorized_keys": list(account.ssh_keys),
        }
        if account.groups:
            user["groups"] = ",".join(account.groups)
        if account.sudo:
            user["sudo"] = "ALL=(ALL) NOPASSWD:ALL"
        users.append(user)
    data: dict[str, Any] = {
        "hostname": spec.hostname,
        "preserve_hostname": False,
        "timezone": spec.timezone,
        "users": users,
        "ssh_pwauth": False,
        "disable_root": True,
    }
    if groups:
        data["groups"] = groups
    if spec.host_key is not None:
        private, public = spec.host_key
        data["ssh_deletekeys"] = True
        data["ssh_genkeytypes"] = []
        data["ssh_keys"] = {"ed25519_private": private, "ed25519_public": public}
    return data


def render_user_data(spec: SeedSpec) -> str:
    return "#cloud-config\n" + _dump(user_data(spec))


def render_meta_data(spec: SeedSpec) -> str:
    return _dump({"instance-id": spec.instance_id, "local-hostname": spec.hostname})


def render_network_config(spec: SeedSpec) -> str:
    """Static addresses per NIC, matched by MAC; no gateway (lab networks are isolated)."""
    ethernets = {
        f"nic{index}": {
            "match": {"macaddress": nic.mac},
            "addresses": [str(nic.address)],
            "dhcp4": False,
            "dhcp6": False,
            "accept-ra": False,
        }
        for index, nic in enumerate(spec.interfaces)
    }
    return _dump({"version": 2, "ethernets": ethernets})


def write_seed(spec: SeedSpec, path: Path) -> None:
    """The NoCloud seed image (ISO 9660, volume id `cidata`) at `path`, written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        work = Path(tmp)
        files = {
            "user-data": render_user_data(spec),
            "meta-data": render_meta_data(spec),
            "network-config": render_network_config(spec),
        }
        for name, text in files.items():
            (work / name).write_text(text)
        staged = work / "seed.iso"
        run(
            [
                "genisoimage",
                "-quiet",
                "-output",
                staged,
                "-volid",
                "cidata",
                "-joliet",
                "-rock",
                *(work / name for name in files),
            ],
            hint="install genisoimage: apt-get install genisoimage",
        )
        # It holds the machine's private host key: QEMU reads it, nobody else.
        staged.chmod(0o640)
        staged.replace(path)


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)
