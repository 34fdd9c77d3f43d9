"""Reaching a guest over SSH (paramiko): run a command, wait until it answers, copy a file.

The guest's host key is pinned when known (it is: the orchestrator made it and put it
in the seed), so a different key is an error, not a prompt. Key material never appears
in messages; paramiko and socket errors become `LabError`s with a hint. A guest on
another lab server is reached through that server's SSH (its `jump`, as OpenSSH's
ProxyJump does it): its management network is a bridge on that server only.
"""

from __future__ import annotations

import base64
import binascii
import logging
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path
from typing import NoReturn

import paramiko
from pydantic import BaseModel, ConfigDict, field_validator

from lab.errors import HostError, LabError, NotFoundError
from lab.host.model import SshJump

# The guest's sshd appears ~30 s after boot under TCG; until then connections are
# refused (or time out while the guest is busy), so each attempt is kept short.
_CONNECT_TIMEOUT = 5.0
_RETRY_PAUSE = 0.5
_PROGRESS_EVERY = 15.0
_READ_CHUNK = 32768

# A `wait_ready` probe for cloud-init guests: first-boot configuration has finished.
# sshd answers ~1-2 s before that, and cloud-init then restarts it once (while applying
# ssh_pwauth), so a plain "true" probe can be followed by a refused or reset connection.
FIRST_BOOT_DONE = "test -e /var/lib/cloud/instance/boot-finished"

# paramiko logs every failed handshake as an ERROR traceback from its transport thread.
# While a guest boots those failures are expected, and each one that matters reaches
# the caller as a LabError anyway, so our connections log on a channel kept quiet.
_LOG_CHANNEL = "lab.guest.ssh"
logging.getLogger(_LOG_CHANNEL).setLevel(logging.CRITICAL)


class GuestUnreachableError(LabError):
    """The guest did not answer on SSH (in time)."""


class HostKeyMismatchError(LabError):
    """The guest answered with a host key other than the one the lab gave it."""


class JumpHostError(HostError):
    """The lab server a guest is reached through refused the control node's SSH login
    (unknown host key, key not accepted): waiting does not change that."""


class GuestAddress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str  # IPv4 address
    port: int = 22
    user: str
    key: Path  # the private key file
    host_key: str | None = None  # "ssh-ed25519 AAAA..." to pin; None trusts on first use
    jump: SshJump | None = None  # the lab server the guest is reached through

    @field_validator("host")
    @classmethod
    def _ipv4(cls, value: str) -> str:
        return str(IPv4Address(value))

    @field_validator("host_key")
    @classmethod
    def _public_key_line(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_host_key(value)
        return value


class CommandResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    exit_code: int  # -1 when the guest closed the channel without one
    stdout: str
    stderr: str
    duration: float


def connect(addr: GuestAddress, timeout: float = _CONNECT_TIMEOUT) -> paramiko.SSHClient:
    """An authenticated SSH connection (close it when done).

    `HostKeyMismatchError` when a pinned host key does not match, `GuestUnreachableError`
    for everything else that stops the connection (refused, timed out, auth failed).
    """
    if not addr.key.is_file():
        raise NotFoundError(
            f"the SSH key {addr.key} is missing",
            hint="the lab's keys live in its directory; recreate the lab (`lab down`, `lab up`)",
        )
    client = _Connection()
    client.set_log_channel(_LOG_CHANNEL)
    if addr.host_key is not None:
        key_type, pinned = _parse_host_key(addr.host_key)
        client.get_host_keys().add(_known_hosts_name(addr), key_type, pinned)
        client.set_missing_host_key_policy(_PinnedPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        sock = None
        if addr.jump is not None:
            client.jump = connect_jump(addr.jump, timeout)
            sock = tunnel(client.jump, addr.jump, addr.host, addr.port, timeout)
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
            sock=sock,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise _mismatch(addr) from exc
    except HostKeyMismatchError as exc:
        client.close()
        raise _mismatch(addr) from exc
    except (OSError, paramiko.SSHException, EOFError) as exc:
        client.close()
        raise GuestUnreachableError(
            f"cannot reach {addr.user}@{addr.host}:{addr.port}: {_describe(exc)}",
            hint="is the machine running? `lab status` shows it",
        ) from exc
    return client


class _Connection(paramiko.SSHClient):
    """A guest connection; closing it also closes the lab server's it went through."""

    jump: paramiko.SSHClient | None = None

    def close(self) -> None:
        super().close()
        if self.jump is not None:
            self.jump.close()


def connect_jump(jump: SshJump, timeout: float = _CONNECT_TIMEOUT) -> paramiko.SSHClient:
    """An SSH connection to a lab server as the service user, its host key checked
    against the known hosts (never trusted on first use). `GuestUnreachableError` when
    it does not answer (worth another try), `JumpHostError` when it refuses us."""
    client = paramiko.SSHClient()
    client.set_log_channel(_LOG_CHANNEL)
    hint = (
        f"as the service user, `ssh -p {jump.port} {jump.user}@{jump.host} true` must work"
        " without questions: its key in the known hosts"
        + (f" ({jump.known_hosts})" if jump.known_hosts else "")
        + ", our key in its authorized_keys"
    )
    try:
        if jump.known_hosts is not None:
            client.load_host_keys(str(jump.known_hosts))
        else:
            client.load_system_host_keys()
    except OSError as exc:
        raise JumpHostError(
            f"cannot read the known hosts {jump.known_hosts}: {_describe(exc)}", hint=hint
        ) from exc
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            jump.host,
            port=jump.port,
            username=jump.user,
            key_filename=str(jump.key) if jump.key is not None else None,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=jump.key is None,
        )
    except (paramiko.BadHostKeyException, paramiko.AuthenticationException) as exc:
        client.close()
        what = (
            "its SSH host key is not the known one"
            if isinstance(exc, paramiko.BadHostKeyException)
            else "it did not accept our SSH key"
        )
        raise JumpHostError(f"lab server {jump.target}: {what}", hint=hint) from exc
    except paramiko.SSHException as exc:
        client.close()
        if "known_hosts" in str(exc):
            raise JumpHostError(
                f"lab server {jump.target}: its SSH host key is not among the known hosts",
                hint=hint,
            ) from exc
        raise GuestUnreachableError(
            f"cannot reach lab server {jump.target} by SSH: {_describe(exc)}", hint=hint
        ) from exc
    except (OSError, EOFError) as exc:
        client.close()
        raise GuestUnreachableError(
            f"cannot reach lab server {jump.target} by SSH: {_describe(exc)}",
            hint="is the server up, its sshd running and its firewall open to this machine?",
        ) from exc
    return client


def check_jump(jump: SshJump) -> None:
    """The lab server `jump` takes our SSH login (a LabError saying why not)."""
    connect_jump(jump, timeout=10.0).close()


def tunnel(
    client: paramiko.SSHClient, jump: SshJump, host: str, port: int, timeout: float
) -> paramiko.Channel:
    """A TCP connection from the lab server to `host:port` (OpenSSH's `-W`)."""
    transport = client.get_transport()
    try:
        if transport is None:
            raise paramiko.SSHException("the connection closed")
        return transport.open_channel(
            "direct-tcpip", (host, port), ("127.0.0.1", 0), timeout=timeout
        )
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise GuestUnreachableError(
            f"lab server {jump.host} cannot reach {host}:{port}: {_describe(exc)}",
            hint="is the machine running? `lab status` shows it",
        ) from exc


def wait_listening(addr: GuestAddress, deadline_s: float) -> float:
    """Wait until the machine's SSH server answers a connection with its banner; how long
    it took. No handshake: after a memory restore the server is the one that passed
    before, and a key exchange in an emulated CPU costs a second; this proves the address,
    the path to it and the server answering. `GuestUnreachableError` at the deadline."""
    started = time.monotonic()
    last = "no attempt finished"
    jump = connect_jump(addr.jump) if addr.jump is not None else None
    try:
        while (now := time.monotonic()) < started + deadline_s:
            try:
                with _open_stream(jump, addr) as conn:
                    conn.settimeout(max(0.5, min(5.0, started + deadline_s - now)))
                    if conn.recv(64).startswith(b"SSH-"):
                        return time.monotonic() - started
                    last = "it answered, but not as an SSH server"
            except OSError as exc:
                last = _describe(exc)
            except GuestUnreachableError as exc:
                last = exc.message
            time.sleep(0.05)
    finally:
        if jump is not None:
            jump.close()
    raise GuestUnreachableError(
        f"{addr.host}:{addr.port} did not answer on SSH within {deadline_s:.0f} s (last: {last})",
        hint="look at the machine's console: is it running, and its network up?",
    )


def _open_stream(
    jump: paramiko.SSHClient | None, addr: GuestAddress
) -> socket.socket | paramiko.Channel:
    if jump is None or addr.jump is None:
        return socket.create_connection((addr.host, addr.port), timeout=2.0)
    return tunnel(jump, addr.jump, addr.host, addr.port, timeout=2.0)


def run(addr: GuestAddress, command: str, timeout: float = 60.0) -> CommandResult:
    """Run `command` in the guest's shell and wait for it, for `timeout` seconds in all."""
    started = time.monotonic()
    client = connect(addr, timeout=min(timeout, 10.0))
    try:
        return _execute(client, addr, command, started + timeout, started)
    finally:
        client.close()


def wait_ready(
    addr: GuestAddress,
    deadline_s: float,
    progress: Callable[[str], None] | None = None,
    probe: str = "true",
) -> float:
    """Retry connecting and running `probe` until it exits 0; return the seconds it took.

    A changed host key ends the wait at once (`HostKeyMismatchError`): waiting longer
    would not change who answers.
    """
    client, took = wait_connected(addr, deadline_s, progress, probe)
    client.close()
    return took


def wait_connected(
    addr: GuestAddress,
    deadline_s: float,
    progress: Callable[[str], None] | None = None,
    probe: str = "true",
) -> tuple[paramiko.SSHClient, float]:
    """Like `wait_ready`, but hand back the open connection (the caller closes it).

    An SSH handshake costs most of a second under TCG: callers with more to run in
    the guest right away (a reset's quick checks) reuse this one via `run_on`.
    """
    started = time.monotonic()
    deadline = started + deadline_s
    last = "no attempt finished"
    reported = started
    if progress is not None:
        progress(f"waiting for SSH on {addr.host}:{addr.port}")
    # One handshake, then the probe again on the same connection until it passes: a key
    # exchange costs the emulated CPU most of a second, the probe alone a few hundredths,
    # and the guest spends that CPU while it is still booting. A new connection is made
    # only when there is none or the open one broke off.
    client: paramiko.SSHClient | None = None
    try:
        while (now := time.monotonic()) < deadline:
            try:
                if client is None:
                    client = connect(addr, timeout=max(0.5, min(_CONNECT_TIMEOUT, deadline - now)))
                result = _execute(client, addr, probe, deadline, time.monotonic())
                if result.exit_code == 0:
                    ready, client = client, None
                    return ready, time.monotonic() - started
                last = f"the probe `{probe}` exited with {result.exit_code}"
            except GuestUnreachableError as exc:
                last = exc.message
                if client is not None:
                    client.close()
                    client = None
            now = time.monotonic()
            if progress is not None and now - reported >= _PROGRESS_EVERY:
                reported = now
                progress(f"still waiting for SSH ({now - started:.0f} s): {last}")
            time.sleep(max(0.0, min(_RETRY_PAUSE, deadline - now)))
    finally:
        if client is not None:
            client.close()
    raise GuestUnreachableError(
        f"{addr.host}:{addr.port} did not answer on SSH within {deadline_s:.0f} s (last: {last})",
        hint="look at the machine's console: did it boot, and did cloud-init finish?",
    )


def run_on(
    client: paramiko.SSHClient,
    addr: GuestAddress,
    command: str,
    timeout: float = 60.0,
    on_stdout: Callable[[bytes], None] | None = None,
    limit: int | None = None,
) -> CommandResult:
    """Run `command` over an open connection (from `connect` or `wait_connected`).

    With `on_stdout`, the command's output goes to it chunk by chunk as it arrives (and
    the result's `stdout` stays empty): for long commands whose output is progress, and
    whose whole output need not be held in memory. With `limit`, only the first `limit`
    bytes of stdout and of stderr are kept (the rest is read and dropped): for commands
    whose output someone else controls, such as a trainee.
    """
    started = time.monotonic()
    return _execute(client, addr, command, started + timeout, started, on_stdout, limit)


def put_file(
    client: paramiko.SSHClient, addr: GuestAddress, path: str, data: bytes, timeout: float = 60.0
) -> None:
    """Write `data` to the guest's file `path` (SFTP, as the admin user, mode 0600)."""
    with _sftp(client, addr, path, timeout) as sftp, sftp.open(path, "wb") as f:
        f.chmod(0o600)
        f.write(data)


def read_file(
    client: paramiko.SSHClient,
    addr: GuestAddress,
    path: str,
    limit: int,
    *,
    tail: bool = False,
    timeout: float = 60.0,
) -> bytes | None:
    """The guest's file `path` (None if it does not exist), at most `limit` bytes of it.

    A longer file is an error, or with `tail` only its last `limit` bytes are read: what
    comes from a guest is never read whole without a bound.
    """
    with _sftp(client, addr, path, timeout) as sftp:
        try:
            f = sftp.open(path, "rb")
        except FileNotFoundError:
            return None
        with f:
            size = f.stat().st_size or 0
            if size > limit:
                if not tail:
                    raise LabError(
                        f"{path} on {addr.host} is {size} bytes, more than the {limit} accepted",
                        hint="the guest wrote more than the orchestrator reads back",
                    )
                f.seek(size - limit)
            return bytes(f.read(limit))


class _PinnedPolicy(paramiko.RejectPolicy):
    """Reject like RejectPolicy, but say what it means: the guest is not the one we made."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> NoReturn:
        # The server offered a key of another type than the pinned one, or none we know.
        raise HostKeyMismatchError(f"unexpected host key from {hostname}")


@contextmanager
def _sftp(
    client: paramiko.SSHClient, addr: GuestAddress, path: str, timeout: float
) -> Iterator[paramiko.SFTPClient]:
    try:
        transport = client.get_transport()
        if transport is None:
            raise paramiko.SSHException("the connection closed")
        sftp = paramiko.SFTPClient.from_transport(transport)
        if sftp is None:
            raise paramiko.SSHException("the guest refused an SFTP session")
        channel = sftp.get_channel()
        if channel is not None:
            channel.settimeout(timeout)  # each read or write, not the whole copy
        with sftp:
            yield sftp
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise GuestUnreachableError(
            f"copying {path} to or from {addr.host} failed: {_describe(exc)}",
            hint="did the machine reboot or lose its network?",
        ) from exc


def _execute(
    client: paramiko.SSHClient,
    addr: GuestAddress,
    command: str,
    deadline: float,
    started: float,
    on_stdout: Callable[[bytes], None] | None = None,
    limit: int | None = None,
) -> CommandResult:
    # stdout and stderr are drained together: reading one to its end first can stall
    # a chatty command once the other fills the channel's window.
    out, err = bytearray(), bytearray()
    keep = limit if limit is not None else -1
    try:
        transport = client.get_transport()
        if transport is None:
            raise paramiko.SSHException("the connection closed")
        channel = transport.open_session(timeout=max(0.5, deadline - time.monotonic()))
        channel.exec_command(command)
        while True:
            busy = False
            while channel.recv_ready():
                chunk = channel.recv(_READ_CHUNK)
                if on_stdout is not None:
                    on_stdout(chunk)
                elif keep < 0 or len(out) < keep:
                    out += chunk if keep < 0 else chunk[: keep - len(out)]
                busy = True
            while channel.recv_stderr_ready():
                chunk = channel.recv_stderr(_READ_CHUNK)
                if keep < 0 or len(err) < keep:
                    err += chunk if keep < 0 else chunk[: keep - len(err)]
                busy = True
            if channel.exit_status_ready() and not (
                channel.recv_ready() or channel.recv_stderr_ready()
            ):
                break
            if time.monotonic() >= deadline:
                raise GuestUnreachableError(
                    f"`{_short(command)}` on {addr.host} did not finish in time",
                    hint="it may need a longer timeout, or it waits for input",
                )
            if not busy:
                time.sleep(0.02)
        code = channel.recv_exit_status()
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise GuestUnreachableError(
            f"`{_short(command)}` on {addr.host} broke off: {_describe(exc)}",
            hint="did the machine reboot or lose its network?",
        ) from exc
    return CommandResult(
        exit_code=code,
        stdout=out.decode("utf-8", errors="replace"),
        stderr=err.decode("utf-8", errors="replace"),
        duration=time.monotonic() - started,
    )


def _parse_host_key(text: str) -> tuple[str, paramiko.PKey]:
    fields = text.split()
    try:
        if len(fields) < 2:
            raise ValueError("too few fields")
        return fields[0], paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1]))
    except (ValueError, binascii.Error, paramiko.SSHException) as exc:
        # The key's own text stays out of the message.
        raise ValueError(
            "host_key is not an OpenSSH public key line ('ssh-ed25519 AAAA...')"
        ) from exc


def _known_hosts_name(addr: GuestAddress) -> str:
    return addr.host if addr.port == 22 else f"[{addr.host}]:{addr.port}"


def _mismatch(addr: GuestAddress) -> HostKeyMismatchError:
    return HostKeyMismatchError(
        f"the SSH host key of {addr.host}:{addr.port} changed: it is not the key this lab"
        " gave the machine",
        hint="another machine answers on that address, or the guest's keys were replaced;"
        " reset the lab (or `lab down` and `lab up` again) rather than trusting the new key",
    )


def _short(command: str, limit: int = 60) -> str:
    line = command.splitlines()[0] if command else ""
    return line if len(line) <= limit and "\n" not in command else line[:limit] + "..."


def _describe(exc: BaseException) -> str:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError) and exc.errors:
        # paramiko wraps the per-address socket errors; theirs are the useful words.
        return "; ".join(_describe(e) for e in exc.errors.values())
    if isinstance(exc, paramiko.AuthenticationException):
        return "the lab key was not accepted (the guest may still be creating its users)"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, EOFError):
        return "the guest closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]
