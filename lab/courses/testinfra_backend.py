"""A testinfra backend over the lab's own admin path, for course checks on a managed machine.

testinfra's modules (`host.file(p).exists`, `host.service(n)`, `host.user(n).groups`...)
build their command lines with every argument quoted; `LabBackend.run` sends each one
through lab.labs.guest over an open paramiko connection (the lab's key, the machine's
pinned host key), as root: `sudo -n timeout -k 1 N /bin/sh -c COMMAND`. `-n`: a refused
sudo fails at once instead of waiting for a password; `timeout`: a command still running
at the check's deadline is ended in the guest too, not left behind. What comes back is
bounded (`OUTPUT_LIMIT` of stdout and of stderr) and decoded as UTF-8, and is only data.

Nothing runs on the host: testinfra's `run_local` is refused here.
"""

from __future__ import annotations

import math
import shlex
import time
from typing import Any

import paramiko
import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from lab.errors import LabError
from lab.labs import guest
from lab.labs.guest import GuestAddress

OUTPUT_LIMIT = 65536  # bytes of stdout (and of stderr) kept of one command
_MARGIN = 3.0  # seconds the host waits beyond the guest's own `timeout`
_DEFAULT_BUDGET = 20.0


class CheckTimeoutError(LabError):
    """A check's command did not finish by the check's deadline."""


class LabBackend(BaseBackend):  # type: ignore[misc]
    """testinfra's connection to one managed machine of a lab (the admin user, as root)."""

    NAME = "hromada-lab"

    def __init__(self, machine: str, client: paramiko.SSHClient, addr: GuestAddress) -> None:
        super().__init__(machine, sudo=True)
        self.client = client
        self.addr = addr
        self._encoding = "utf-8"
        self.deadline = time.monotonic() + _DEFAULT_BUDGET

    def bound(self, seconds: float) -> None:
        """Commands from now on end within `seconds` in all (the check's budget)."""
        self.deadline = time.monotonic() + seconds

    def get_command(self, command: str, *args: str) -> str:
        command = self.quote(command, *args)
        seconds = self._guest_seconds()
        return shlex.join(
            ["sudo", "-n", "timeout", "-k", "1", str(seconds), "/bin/sh", "-c", command]
        )

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        started = time.monotonic()
        left = self.deadline - started
        if left <= 0:
            raise CheckTimeoutError(f"no time left to run a command on {self.hostname}")
        seconds = self._guest_seconds()
        line = self.get_command(command, *args)
        result = guest.run_on(
            self.client, self.addr, line, timeout=left + _MARGIN, limit=OUTPUT_LIMIT
        )
        # `timeout` ends the command with 124 when its time is up, 137 when it had to kill
        # it a second later (a command may exit so by itself, but not just as time runs out).
        if result.exit_code in (124, 137) and time.monotonic() - started >= seconds - 0.2:
            raise CheckTimeoutError(f"a command on {self.hostname} did not finish in time")
        return self.result(result.exit_code, self.encode(line), result.stdout, result.stderr)

    def _guest_seconds(self) -> int:
        return max(1, math.floor(self.deadline - time.monotonic()))

    def run_local(self, command: str, *args: str) -> CommandResult:
        raise LabError(
            "a course check tried to run a command on the host",
            hint="course checks run in the lab's guests only",
        )

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8", errors="replace")

    def encode(self, data: str) -> bytes:
        return data.encode("utf-8")


def host_over(backend: LabBackend) -> testinfra.host.Host:
    """A testinfra Host over `backend`. Its system is known (the lab's managed machines are
    Debian Linux): testinfra would otherwise ask `uname` and os-release on every new Host."""
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    vars(host.system_info)["sysinfo"] = {
        "type": "linux",
        "distribution": "debian",
        "codename": None,
        "release": None,
        "arch": None,
    }
    return host
