"""One OpenSSH client configuration per lab, shared by Ansible and the testinfra checks.

`labs/LAB/ssh_config` names every machine by its profile name (`ssh -F FILE portal`),
with the lab's key, the management address, and the machine's pinned host key in
the lab's `known_hosts` (StrictHostKeyChecking yes: a guest answering with another key is refused,
never trusted on first use). A lab on another server is reached through that server
(ProxyJump to a `Host` block of its own, with the server's key checked against the known
hosts the server was added with). Built by pure functions, written with mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.host.model import SshJump
from lab.labs.deployment import ADMIN_USER
from lab.labs.plan import LabPlan

# The jump host's alias in the file: it has a dot, which no machine name has.
JUMP = "lab-server.jump"


def render_ssh_config(plan: LabPlan) -> str:
    """Pure: a `Host` block per managed machine (machine names are DNS labels, addresses
    IPv4); appliances are not logged into."""
    blocks = [] if plan.jump is None else [render_jump(plan.jump)]
    jump = "" if plan.jump is None else f"  ProxyJump {JUMP}\n"
    for machine in plan.managed_machines:
        blocks.append(
            f"Host {machine.name}\n"
            f"  HostName {machine.management_address}\n"
            f"{jump}"
            f"  User {ADMIN_USER}\n"
            f"  IdentityFile {plan.keys_dir / 'id_ed25519'}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {plan.known_hosts}\n"
            "  StrictHostKeyChecking yes\n"
            "  CheckHostIP no\n"
            "  LogLevel ERROR\n"
            "  ConnectTimeout 10\n"
            "  ServerAliveInterval 15\n"
        )
    return "\n".join(blocks)


def render_jump(jump: SshJump) -> str:
    """Pure: the lab server's own block (user, host and port checked in lab.host.uris)."""
    lines = [
        f"Host {JUMP}",
        f"  HostName {jump.host}",
        f"  Port {jump.port}",
        f"  User {jump.user}",
    ]
    if jump.key is not None:
        lines += [f"  IdentityFile {jump.key}", "  IdentitiesOnly yes"]
    if jump.known_hosts is not None:
        lines.append(f"  UserKnownHostsFile {jump.known_hosts}")
    lines += ["  StrictHostKeyChecking yes", "  BatchMode yes", "  ConnectTimeout 10"]
    return "".join(line + "\n" for line in lines)


def write(plan: LabPlan) -> Path:
    """Write the lab's ssh_config (beside the known_hosts `up` wrote); return its path."""
    path = plan.directory / "ssh_config"
    _write_private(path, render_ssh_config(plan))
    return path


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # a stale one keeps its old mode; O_EXCL makes it ours
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
