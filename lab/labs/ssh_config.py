"""One OpenSSH client configuration per lab, shared by Ansible and the testinfra checks.

`labs/LAB/ssh_config` names every machine by its profile name (`ssh -F FILE portal`),
with the lab's key, the management address, and the machine's pinned host key in
the lab's `known_hosts` (StrictHostKeyChecking yes: a guest answering with another key is refused,
never trusted on first use). Built by pure functions, written with mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.labs.deployment import ADMIN_USER
from lab.labs.plan import LabPlan


def render_ssh_config(plan: LabPlan) -> str:
    """Pure: a `Host` block per managed machine (machine names are DNS labels, addresses
    IPv4); appliances are not logged into."""
    blocks = []
    for machine in plan.managed_machines:
        blocks.append(
            f"Host {machine.name}\n"
            f"  HostName {machine.management_address}\n"
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
