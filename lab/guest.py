"""Reaching a guest over SSH (paramiko): run a command, wait until it answers.

The guest's host key is pinned when known (it is: the orchestrator made it), so a
changed key is an error, not a prompt. Key material never appears in messages.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
from pydantic import BaseModel, ConfigDict

from lab.errors import LabError


class GuestUnreachableError(LabError):
    """The guest did not answer on SSH in time."""


class GuestAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = 22
    user: str
    key: Path
    host_key: str | None = None  # "ssh-ed25519 AAAA..." to pin; None trusts on first use


class CommandResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    exit_code: int
    stdout: str
    stderr: str
    duration: float


def connect(addr: GuestAddress, timeout: float = 10.0) -> paramiko.SSHClient:
    """An authenticated SSH connection; LabError when the guest's host key is not ours."""
    client = paramiko.SSHClient()
    if addr.host_key:
        key_type, data = addr.host_key.split()[:2]
        pinned = paramiko.PKey.from_type_string(key_type, base64.b64decode(data))
        host = addr.host if addr.port == 22 else f"[{addr.host}]:{addr.port}"
        client.get_host_keys().add(host, key_type, pinned)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            addr.host,
            port=addr.port,
            username=addr.user,
            key_filename=str(addr.key),
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise LabError(
            f"the SSH host key of {addr.host} is not the one this lab gave the machine",
            hint="another machine answers on that address, or the guest was tampered with;"
            " reset the lab (or take it down and up again)",
        ) from exc
    except BaseException:
        client.close()
        raise
    return client


def run(addr: GuestAddress, command: str, timeout: float = 60.0) -> CommandResult:
    """Run `command` in the guest's shell; the result carries its exit code and output."""
    started = time.monotonic()
    try:
        client = connect(addr, timeout=min(timeout, 10.0))
    except (OSError, paramiko.SSHException) as exc:
        raise GuestUnreachableError(
            f"cannot reach {addr.user}@{addr.host}: {_describe(exc)}",
            hint="is the machine running? `lab status` shows it",
        ) from exc
    try:
        _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode("utf-8", errors="replace")
        err = stderr.read().decode("utf-8", errors="replace")
        code = stdout.channel.recv_exit_status()
    except (OSError, paramiko.SSHException) as exc:
        raise GuestUnreachableError(
            f"the command on {addr.host} did not finish: {_describe(exc)}",
            hint=f"it may need longer than {timeout:.0f} s",
        ) from exc
    finally:
        client.close()
    return CommandResult(
        exit_code=code, stdout=out, stderr=err, duration=time.monotonic() - started
    )


def wait_ready(
    addr: GuestAddress,
    deadline_s: float,
    progress: Callable[[str], None] | None = None,
    probe: str = "true",
) -> float:
    """Retry until `probe` succeeds over SSH; return the seconds it took."""
    started = time.monotonic()
    last = "no attempt yet"
    reported = 0.0
    if progress:
        progress(f"waiting for SSH on {addr.host}")
    while (elapsed := time.monotonic() - started) < deadline_s:
        try:
            result = run(addr, probe, timeout=min(15.0, max(1.0, deadline_s - elapsed)))
            if result.exit_code == 0:
                return time.monotonic() - started
            last = f"`{probe}` exited with {result.exit_code}"
        except GuestUnreachableError as exc:
            last = exc.message
        if progress and elapsed - reported >= 15:
            reported = elapsed
            progress(f"still waiting ({elapsed:.0f} s)")
        time.sleep(min(1.0, max(0.0, deadline_s - (time.monotonic() - started))))
    raise GuestUnreachableError(
        f"{addr.host} did not answer on SSH within {deadline_s:.0f} s (last: {last})",
        hint="look at the machine's console",
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError) and exc.errors:
        # paramiko wraps the per-address socket errors; theirs are the useful words.
        return "; ".join(_describe(e) for e in exc.errors.values())
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
