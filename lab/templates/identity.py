"""A clone's own identity, set inside each managed machine right after its restore.

A restored memory state is the template's machine, with the template's management
address, SSH host key, lab key and passwords. Before anything reaches the clone over the
network, one shell script per machine goes in through the QEMU guest agent (a virtio
serial channel: no network needed, and the script arrives on standard input, so no
secret is ever on a command line). It:

- moves the management interface (found by its MAC, which clones keep) to the clone's
  own address, in the running system and in systemd-networkd's file;
- installs the clone's own SSH host key (the one the orchestrator pinned) and reloads sshd;
- replaces the lab key in the authorized keys of the management user and the accounts;
- gives every account the clone's own password (`chpasswd -e` with hashes made on the
  host), and runs each role's `files/rekey.sh` (Samba, LDAP) with the staff's passwords.

The profile's own networks keep their addresses (every seat of a class has them, on
segments of its own); the machine ID stays (no lab network runs DHCP: nothing keys a
lease on it); the clock is set through the agent like after any restore.
"""

from __future__ import annotations

import shlex
import time
from ipaddress import IPv4Interface
from pathlib import Path

from lab.base import Frozen
from lab.driver.connection import Driver
from lab.errors import LabError
from lab.labs import keys, passwords, seed
from lab.labs.deployment import ADMIN_USER
from lab.labs.plan import LabPlan, MachinePlan
from lab.profile import AccountKind, Profile
from lab.software.roles import role_directory


class Identity(Frozen):
    """What makes one managed machine of a clone its own (secrets included: never logged)."""

    mac: str  # of the management NIC
    address: IPv4Interface  # its management address and prefix
    host_key: tuple[str, str]  # (private OpenSSH text, public line)
    lab_key: str  # the public line of the clone's lab key
    admin_user: str = ADMIN_USER
    accounts: tuple[str, ...] = ()  # every account whose keys and password change
    password_hashes: tuple[tuple[str, str], ...] = ()  # (account, crypt hash)
    staff_passwords: tuple[tuple[str, str], ...] = ()  # (account, password) for rekey.sh
    rekey_scripts: tuple[str, ...] = ()  # the machine's roles' rekey.sh texts


def script(identity: Identity) -> bytes:
    """The shell script that makes the machine the clone's (pure)."""
    q = shlex.quote
    private, public = identity.host_key
    users = " ".join(q(user) for user in (identity.admin_user, *identity.accounts))
    # Each program started in an emulated guest costs a tenth of a second or more just
    # after a restore: the shell's own `read`, `set` and `umask` do what `cat`, `awk`,
    # `cut` and `chmod` did, and one `getent` finds every home.
    lines = [
        "set -eu",
        "umask 077",
        f"mac={q(identity.mac)}",
        f"new={q(str(identity.address))}",
        'dev=""',
        "for d in /sys/class/net/*; do",
        '  [ -r "$d/address" ] || continue',
        '  read -r a <"$d/address" || a=""',
        '  [ "$a" = "$mac" ] && dev=${d##*/}',
        "done",
        '[ -n "$dev" ] || { echo "no interface has MAC $mac" >&2; exit 3; }',
        'set -f; set -- $(ip -4 -o addr show dev "$dev"); set +f',
        "old=${4:-}",
        'if [ "$old" != "$new" ]; then',
        "  for f in /etc/systemd/network/*.network; do",
        '    [ -e "$f" ] && sed -i "s|^Address=$old\\$|Address=$new|" "$f"',
        "  done",
        '  ip -4 addr add "$new" dev "$dev"',
        '  [ -z "$old" ] || ip -4 addr del "$old" dev "$dev"',
        '  ip neigh flush dev "$dev" || true',
        "fi",
        "key=/etc/ssh/ssh_host_ed25519_key",
        "rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub",
        f'printf "%s\\n" {q(private.strip())} >"$key"',
        f'(umask 022; printf "%s\\n" {q(public.strip())} >"$key.pub")',
        f"getent passwd {users} | while IFS=: read -r _user _ _ _ _ home _; do",
        '  [ -n "$home" ] && [ -d "$home/.ssh" ] || continue',
        f'  printf "%s\\n" {q(identity.lab_key)} >"$home/.ssh/authorized_keys"',
        "done",
    ]
    if identity.password_hashes:
        entries = "\n".join(f"{name}:{hashed}" for name, hashed in identity.password_hashes)
        lines.append(f"printf '%s\\n' {q(entries)} | chpasswd -e")
    if identity.staff_passwords:
        staff = "\n".join(f"{name} {password}" for name, password in identity.staff_passwords)
        for text in identity.rekey_scripts:
            lines.append(f"printf '%s\\n' {q(staff)} | (\n{text.strip()}\n)")
    # sshd takes the new host key for new connections; a session in progress lives on.
    lines += [
        'pid=""',
        "[ -r /run/sshd.pid ] && read -r pid </run/sshd.pid || true",
        '[ -n "$pid" ] && kill -HUP "$pid" 2>/dev/null || systemctl reload ssh.service',
    ]
    lines.append('echo "identity set"')
    return ("\n".join(lines) + "\n").encode()


def identity_of(
    plan: LabPlan, machine: MachinePlan, spec: Profile, playbooks_dir: Path
) -> Identity:
    """The clone's identity for one managed machine, from its keys and passwords (made
    with the lab, like any lab's)."""
    assert machine.management is not None
    prefix = plan.management.cidr.prefixlen
    host_key = keys.host_keypair(plan.keys_dir, machine.name)
    lab_key = keys.ensure_keypair(plan.keys_dir, comment=f"hromada-lab:{plan.lab}")
    known = passwords.account_passwords(plan.keys_dir, spec)
    staff = tuple((a.name, known[a.name]) for a in spec.accounts if a.kind is AccountKind.STAFF)
    rekeys = []
    for role in machine.roles:
        path = playbooks_dir / "roles" / role_directory(role) / "files" / "rekey.sh"
        if path.is_file():
            rekeys.append(path.read_text())
    return Identity(
        mac=machine.management.mac,
        address=IPv4Interface(f"{machine.management.address}/{prefix}"),
        host_key=(host_key.private.read_text(), host_key.public_text),
        lab_key=lab_key.public_text,
        accounts=tuple(a.name for a in spec.accounts),
        password_hashes=tuple((name, seed.hash_password(pw)) for name, pw in known.items()),
        staff_passwords=staff,
        rekey_scripts=tuple(rekeys),
    )


def set_identity(
    driver: Driver, machine: MachinePlan, identity: Identity, deadline: float
) -> float:
    """Run the identity script in the machine once its guest agent answers (within
    `deadline` seconds); how long it took. LabError, naming the machine, on failure."""
    started = time.monotonic()
    while not driver.qemu_agent_ping(machine.domain, timeout=2):
        if time.monotonic() - started > deadline:
            raise LabError(
                f"machine '{machine.name}': its guest agent did not answer within"
                f" {deadline:.0f} s, so it could not be given the clone's own address and keys",
                hint="is qemu-guest-agent installed in its image? `lab status` shows the agent",
            )
        time.sleep(0.1)
    code, _out, err = driver.guest_exec(machine.domain, ["/bin/sh", "-s"], script(identity), 60)
    if code != 0:
        raise LabError(
            f"machine '{machine.name}' could not take the clone's own address and keys"
            f" (exit {code}): {err.decode(errors='replace').strip()[-300:]}",
            hint="the lab is removed; try again, or bring the profile up without the template",
        )
    return time.monotonic() - started
