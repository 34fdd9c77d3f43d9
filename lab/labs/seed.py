"""cloud-init NoCloud seeds: what a machine is told on its first boot.

The documents are built as data and dumped with yaml.safe_dump, never formatted as
strings, so no value from a profile (a full name, a hostname) can add a key or a line.
Values the guest itself would choke on (a ':' in a full name breaks /etc/passwd, a line
break splits authorized_keys) are refused here, as `InvalidError`, before a seed exists.
The seed also carries the static network configuration (version 2, matched by MAC):
no lab network runs DHCP. Nothing in a seed needs the network: no packages, no apt.
"""

from __future__ import annotations

import re
import tempfile
from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import model_validator

from lab.base import Frozen
from lab.commands import run
from lab.errors import InvalidError

_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_POSIX = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_CRYPT = re.compile(r"^\$[0-9a-z]{1,3}\$[./A-Za-z0-9$=,]+$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")
_SUDO_ALL = "ALL=(ALL) NOPASSWD:ALL"
_GENISO_HINT = "install genisoimage: apt-get install genisoimage"


class SeedAccount(Frozen):
    name: str
    full_name: str = ""  # gecos: any Unicode, but no ':' and no control characters
    groups: tuple[str, ...] = ()
    sudo: bool = False
    password_hash: str | None = None  # crypt(3) text; for console login only (no SSH)
    ssh_keys: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _guest_safe(self) -> Self:
        where = f"account {self.name!r}"
        _posix(self.name, "account name")
        for group in self.groups:
            _posix(group, f"group of {where}")
        if ":" in self.full_name or not self.full_name.isprintable():
            raise InvalidError(
                f"the full name of {where} ({self.full_name!r}) cannot hold ':' or line breaks",
                hint="/etc/passwd separates fields with ':' and lines with line breaks",
            )
        if self.password_hash is not None and not _CRYPT.fullmatch(self.password_hash):
            raise InvalidError(
                f"the password of {where} is not a crypt(3) hash",
                hint="make one with lab.labs.seed.hash_password (SHA-512, '$6$...')",
            )
        _one_line_keys(self.ssh_keys, where)
        return self


class SeedInterface(Frozen):
    mac: str
    address: IPv4Interface


class SeedSpec(Frozen):
    hostname: str
    instance_id: str
    admin_user: str = "labadmin"
    authorized_keys: tuple[str, ...]
    host_key: tuple[str, str] | None = None  # (private OpenSSH text, public text)
    accounts: tuple[SeedAccount, ...] = ()
    interfaces: tuple[SeedInterface, ...] = ()
    timezone: str = "Europe/Kyiv"

    @model_validator(mode="after")
    def _guest_safe(self) -> Self:
        if not _HOSTNAME.fullmatch(self.hostname):
            raise InvalidError(
                f"{self.hostname!r} is not a valid host name",
                hint="use 1 to 63 lowercase letters, digits and '-' (a DNS label)",
            )
        if not self.instance_id or not self.instance_id.isprintable():
            raise InvalidError(f"instance id {self.instance_id!r} is empty or not printable")
        _posix(self.admin_user, "management user name")
        if self.admin_user in {a.name for a in self.accounts}:
            raise InvalidError(
                f"account {self.admin_user!r} is the lab's management user",
                hint="rename the account in the profile",
            )
        if not _TIMEZONE.fullmatch(self.timezone):
            raise InvalidError(
                f"{self.timezone[:60]!r} is not a time zone name such as Europe/Kyiv",
                hint="give an Area/City name from the tz database (timedatectl list-timezones)",
            )
        _one_line_keys(self.authorized_keys, "the management user")
        if self.host_key is not None:
            private, public = self.host_key
            if "PRIVATE KEY-----" not in private or not public.startswith("ssh-ed25519 "):
                raise InvalidError(
                    "the host key is not an ed25519 OpenSSH key pair",
                    hint="make it with lab.labs.keys.host_keypair",
                )
            _one_line_keys((public,), "the host key")
        return self


def user_data(spec: SeedSpec) -> dict[str, Any]:
    """The #cloud-config document as data (see `render_user_data`)."""
    users: list[dict[str, Any]] = [
        {
            # The orchestrator's own way in: only the lab key, no password, sudo.
            "name": spec.admin_user,
            "gecos": "Hromada Lab management",
            "shell": "/bin/bash",
            "sudo": _SUDO_ALL,
            "lock_passwd": True,
            "ssh_authorized_keys": list(spec.authorized_keys),
        }
    ]
    users += [_user(account) for account in spec.accounts]
    data: dict[str, Any] = {
        "hostname": spec.hostname,
        "preserve_hostname": False,
        "timezone": spec.timezone,
        "users": users,
        "ssh_pwauth": False,
        "disable_root": True,
    }
    groups = sorted({g for a in spec.accounts for g in a.groups})
    if groups:
        data["groups"] = groups
    if spec.host_key is not None:
        private, public = spec.host_key
        data["ssh_deletekeys"] = True
        data["ssh_genkeytypes"] = []  # only the key we made: the one the orchestrator pins
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
    """The NoCloud seed image (ISO 9660 + Joliet + Rock Ridge, volume id `cidata`).

    Written atomically (a temp file renamed into place) with mode 0640: it holds the
    machine's private host key, so QEMU may read it and nobody else.
    """
    files = {"user-data": render_user_data(spec), "meta-data": render_meta_data(spec)}
    if spec.interfaces:
        # Without it the image's own fallback (DHCP on en*) applies.
        files["network-config"] = render_network_config(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".seed-") as tmp:
        work = Path(tmp)
        content = work / "content"
        content.mkdir()
        for name, text in files.items():
            (content / name).write_text(text, encoding="utf-8")
        staged = work / "seed.iso"
        argv: list[str | Path] = ["genisoimage", "-quiet", "-output", staged, "-volid", "cidata"]
        run(
            [*argv, "-joliet", "-rock", content],
            timeout=60,
            hint=_GENISO_HINT,
        )
        staged.chmod(0o640)
        staged.replace(path)


def hash_password(password: str) -> str:
    """A SHA-512 crypt(3) hash ("$6$..."), made by `openssl passwd -6` with a fresh salt."""
    if not password or "\n" in password or "\r" in password:
        raise InvalidError("a password must be one non-empty line")
    result = run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password.encode() + b"\n",  # on stdin: never on a command line (ps shows those)
        timeout=30,
        hint="install openssl: apt-get install openssl",
    )
    hashed = result.stdout.decode().strip()
    if not hashed.startswith("$6$"):
        raise InvalidError("openssl did not return a SHA-512 crypt hash")
    return hashed


def _user(account: SeedAccount) -> dict[str, Any]:
    user: dict[str, Any] = {
        "name": account.name,
        "gecos": account.full_name,
        "shell": "/bin/bash",
        "ssh_authorized_keys": list(account.ssh_keys),
        # Primary group `users`, not a group of the account's name: Debian already has
        # groups such as `operator`, and useradd refuses to reuse one (cloud-init then
        # stops creating the accounts that follow).
        "no_user_group": True,
    }
    if account.password_hash is None:
        user["lock_passwd"] = True
    else:
        user["lock_passwd"] = False
        user["passwd"] = account.password_hash
    if account.groups:
        user["groups"] = list(account.groups)
    if account.sudo:
        user["sudo"] = _SUDO_ALL
    return user


def _posix(name: str, what: str) -> None:
    if not _POSIX.fullmatch(name):
        raise InvalidError(
            f"{name!r} is not a valid {what}",
            hint="use up to 32 lowercase letters, digits, '-' and '_', starting with a letter",
        )


def _one_line_keys(lines: tuple[str, ...], whose: str) -> None:
    for line in lines:
        if not line.isprintable() or not line.startswith(("ssh-", "ecdsa-", "sk-")):
            raise InvalidError(
                f"an SSH key of {whose} is not one OpenSSH public key line",
                hint="use the content of a .pub file",
            )


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)
