"""The script that gives a restored machine its clone's own identity: valid shell, every
value quoted, and (run under `sh` against a fake system in a temporary directory) doing
what it says with hostile values left inert."""

from __future__ import annotations

import shlex
import subprocess
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from lab.templates.identity import Identity, script

PRIVATE = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost root@b2-m1"
LAB_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILab hromada-lab:b2"
# No password the lab makes looks like these (token_urlsafe), but nothing may rely on it.
HOSTILE = 'it\'s $(touch PWNED) `touch PWNED` "$HOME" ; touch PWNED'
HASHES = (
    ("labadmin", "$6$s4lt$AbC/def.GhI"),
    ("olena", "$y$j9T$x$' ; touch PWNED ; '"),
)
STAFF = (("olena", HOSTILE), ("petro", "plain-Pass_1"))
REKEY = 'while read -r user password; do printf "%s|%s\\n" "$user" "$password"; done >"$LOGS/rekey"'


def _identity(**changes: object) -> Identity:
    values: dict[str, object] = {
        "mac": "52:54:00:a9:4e:aa",
        "address": IPv4Interface("10.250.9.10/24"),
        "host_key": (PRIVATE, PUBLIC),
        "lab_key": LAB_KEY,
        "accounts": ("olena", "petro"),
        "password_hashes": HASHES,
        "staff_passwords": STAFF,
        "rekey_scripts": (REKEY,),
    }
    return Identity.model_validate(values | changes)


def test_the_script_is_valid_shell() -> None:
    subprocess.run(["sh", "-n"], input=script(_identity()), check=True)
    subprocess.run(["sh", "-n"], input=script(_identity(rekey_scripts=())), check=True)


def test_every_value_is_quoted() -> None:
    text = script(_identity()).decode()
    q = shlex.quote
    assert f"mac={q('52:54:00:a9:4e:aa')}\n" in text
    assert f"new={q('10.250.9.10/24')}\n" in text
    assert q(PRIVATE.strip()) in text
    assert q(PUBLIC) in text
    assert text.count(q(LAB_KEY)) == 1  # written into each home getent names
    assert "getent passwd labadmin olena petro |" in text
    entries = "\n".join(f"{n}:{h}" for n, h in HASHES)
    assert f"printf '%s\\n' {q(entries)} | chpasswd -e" in text
    staff = "\n".join(f"{n} {p}" for n, p in STAFF)
    assert f"printf '%s\\n' {q(staff)} | (" in text


def test_the_shell_does_what_it_can_without_starting_programs() -> None:
    """Each program started just after a restore costs an emulated guest a tenth of a
    second or more: reading files, splitting fields and setting modes are the shell's."""
    words = set(script(_identity()).decode().replace("|", " ").replace("(", " ").split())
    assert not words & {"cat", "awk", "cut", "chmod", "$(cat"}
    assert script(_identity()).decode().count("getent") == 1


def test_no_secret_appears_outside_its_quoted_printf_argument() -> None:
    text = script(_identity()).decode()
    entries = shlex.quote("\n".join(f"{n}:{h}" for n, h in HASHES))
    staff = shlex.quote("\n".join(f"{n} {p}" for n, p in STAFF))
    rest = text.replace(entries, "ENTRIES", 1).replace(staff, "STAFF", 1)
    for _, secret in (*HASHES, *STAFF):
        assert secret not in rest
    assert "plain-Pass_1" not in rest
    assert rest.count("STAFF") == 1  # once per rekey script


def test_rekey_scripts_run_only_when_given() -> None:
    without = script(_identity(rekey_scripts=())).decode()
    assert "plain-Pass_1" not in without
    assert REKEY not in without
    none_to_give = script(_identity(staff_passwords=())).decode()
    assert REKEY not in none_to_give
    two = script(_identity(rekey_scripts=(REKEY, "true # samba"))).decode()
    assert REKEY in two and "true # samba" in two
    assert two.count(shlex.quote("\n".join(f"{n} {p}" for n, p in STAFF))) == 2
    assert "chpasswd" not in script(_identity(password_hashes=())).decode()


# -- run against a fake system ---------------------------------------------------------

FAKES = {
    # `ip -4 -o addr show dev D` prints the address the template left; the rest is logged.
    "ip": 'echo "ip $*" >>"$LOGS/calls"\n'
    'case "$*" in *" show "*) echo "3: $5    inet 10.250.3.10/24 brd 10.250.3.255 scope global";;'
    " esac",
    "chpasswd": 'echo "chpasswd $*" >>"$LOGS/calls"; cat >"$LOGS/chpasswd"',
    "systemctl": 'echo "systemctl $*" >>"$LOGS/calls"',
    "getent": 'shift; for u in "$@"; do echo "$u:x:1000:1000::$ROOT/home/$u:/bin/bash"; done',
}


def _fake_system(root: Path) -> dict[str, str]:
    """A temporary root: /sys/class/net with two NICs, a networkd file, /etc/ssh, homes."""
    for name, mac in (("ens3", "52:54:00:75:79:6f"), ("ens4", "52:54:00:a9:4e:aa")):
        (root / "sys/class/net" / name).mkdir(parents=True)
        (root / "sys/class/net" / name / "address").write_text(mac + "\n")
    network = root / "etc/systemd/network"
    network.mkdir(parents=True)
    (network / "20-mgmt.network").write_text(
        "[Match]\nMACAddress=52:54:00:a9:4e:aa\n[Network]\nAddress=10.250.3.10/24\n"
    )
    (network / "10-lab.network").write_text("[Network]\nAddress=10.77.0.10/24\n")
    ssh = root / "etc/ssh"
    ssh.mkdir(parents=True)
    for old in ("ssh_host_ed25519_key", "ssh_host_rsa_key", "ssh_host_rsa_key.pub"):
        (ssh / old).write_text("template's\n")
    for user in ("labadmin", "olena"):  # petro has no .ssh: left alone
        (root / "home" / user / ".ssh").mkdir(parents=True)
        (root / "home" / user / ".ssh/authorized_keys").write_text("template's key\n")
    (root / "home/petro").mkdir(parents=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (root / "logs").mkdir()
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "ROOT": str(root),
        "LOGS": str(root / "logs"),
        "HOME": str(root / "home/nobody"),
    }


def _run(identity: Identity, root: Path) -> subprocess.CompletedProcess[str]:
    text = script(identity).decode()
    for system in ("/sys/class/net", "/etc/", "/run/"):
        assert system in text
        text = text.replace(system, f"{root}{system}")
    return subprocess.run(
        ["sh", "-s"],
        input=text,
        text=True,
        capture_output=True,
        cwd=root,
        env=_fake_system(root),
        timeout=30,
    )


def test_the_script_sets_the_identity_on_a_fake_system(tmp_path: Path) -> None:
    done = _run(_identity(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "identity set"
    logs = tmp_path / "logs"
    calls = (logs / "calls").read_text().splitlines()
    assert "ip -4 addr add 10.250.9.10/24 dev ens4" in calls
    assert "ip -4 addr del 10.250.3.10/24 dev ens4" in calls
    assert "chpasswd -e" in calls
    assert "systemctl reload ssh.service" in calls
    network = tmp_path / "etc/systemd/network"
    assert "Address=10.250.9.10/24\n" in (network / "20-mgmt.network").read_text()
    assert (network / "10-lab.network").read_text() == "[Network]\nAddress=10.77.0.10/24\n"
    ssh = tmp_path / "etc/ssh"
    assert sorted(p.name for p in ssh.iterdir()) == [
        "ssh_host_ed25519_key",
        "ssh_host_ed25519_key.pub",
    ]
    assert (ssh / "ssh_host_ed25519_key").read_text() == PRIVATE
    assert (ssh / "ssh_host_ed25519_key").stat().st_mode & 0o777 == 0o600
    assert (ssh / "ssh_host_ed25519_key.pub").read_text() == PUBLIC + "\n"
    assert (ssh / "ssh_host_ed25519_key.pub").stat().st_mode & 0o777 == 0o644
    for user in ("labadmin", "olena"):
        assert (tmp_path / "home" / user / ".ssh/authorized_keys").read_text() == LAB_KEY + "\n"
    assert not (tmp_path / "home/petro/.ssh").exists()
    # Hostile values arrive as data, byte for byte, and run nothing.
    assert (logs / "chpasswd").read_text() == "".join(f"{n}:{h}\n" for n, h in HASHES)
    assert (logs / "rekey").read_text() == "".join(f"{n}|{p}\n" for n, p in STAFF)
    assert not list(tmp_path.rglob("PWNED"))


def test_the_script_fails_when_no_interface_has_the_mac(tmp_path: Path) -> None:
    done = _run(_identity(mac="52:54:00:00:00:01"), tmp_path)
    assert done.returncode == 3
    assert "no interface has MAC 52:54:00:00:00:01" in done.stderr
    assert not (tmp_path / "logs/chpasswd").exists()


@pytest.mark.parametrize("address", ["10.250.3.10/24"])
def test_an_address_already_in_place_is_left_alone(address: str, tmp_path: Path) -> None:
    done = _run(_identity(address=IPv4Interface(address)), tmp_path)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "logs/calls").read_text().splitlines()
    assert not [c for c in calls if c.startswith(("ip -4 addr add", "ip -4 addr del"))]
