"""guest.py against a closed port and an in-process paramiko SSH server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import paramiko
import pytest
from paramiko import common
from paramiko.sftp import SFTP_OK
from pydantic import ValidationError

from lab.errors import LabError, NotFoundError
from lab.labs import guest, keys


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(paramiko.ServerInterface):
    """Accepts one public key; answers `exec` requests from a tiny command table."""

    def __init__(self, allowed: paramiko.PKey) -> None:
        self.allowed = allowed
        self.command = b""
        self.ready = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == "labadmin" and key.get_base64() == self.allowed.get_base64():
            return common.AUTH_SUCCESSFUL
        return common.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return (
            common.OPEN_SUCCEEDED
            if kind == "session"
            else common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        )

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.command = command
        self.ready.set()
        return True


class _Handle(paramiko.SFTPHandle):
    def __init__(self, flags: int, file: IO[bytes]) -> None:
        super().__init__(flags)
        self.file = file
        self.__dict__.update(readfile=file, writefile=file)  # what SFTPHandle reads from

    def stat(self) -> paramiko.SFTPAttributes:
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.file.fileno()))

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        if attr.st_mode is not None:
            os.fchmod(self.file.fileno(), attr.st_mode & 0o7777)
        return SFTP_OK


class _Files(paramiko.SFTPServerInterface):
    """SFTP over a local directory (the guest's file system, for these tests)."""

    root = Path("/nonexistent")

    def open(
        self, path: str, flags: int, attr: paramiko.SFTPAttributes
    ) -> paramiko.SFTPHandle | int:
        try:
            fd = os.open(self.root / path.lstrip("/"), flags, 0o644)
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno or 0)
        mode = "r+b" if flags & os.O_RDWR else "wb" if flags & os.O_WRONLY else "rb"
        return _Handle(flags, os.fdopen(fd, mode, buffering=0))


def _serve(
    conn: socket.socket,
    host_key: paramiko.PKey,
    client_key: paramiko.PKey,
    files: Path | None = None,
) -> None:
    transport = paramiko.Transport(conn)
    transport.add_server_key(host_key)
    if files is not None:
        _Files.root = files
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _Files)
    server = _Server(client_key)
    try:
        transport.start_server(server=server)
        channel = transport.accept(10)
        if channel is None or not server.ready.wait(10):
            return
        if server.command == b"true":
            channel.send_exit_status(0)
        elif server.command == b"chatty":
            # More than a channel window on stderr before any stdout: must not stall.
            channel.sendall_stderr(b"e" * 3_000_000)
            channel.sendall(b"done\n")
            channel.send_exit_status(3)
        elif server.command == b"hang":
            time.sleep(3)
        else:
            channel.sendall(b"ran: " + server.command + b"\n")
            channel.send_exit_status(0)
        channel.close()
        # Like sshd: the client ends the connection once it has read everything.
        deadline = time.monotonic() + 10
        while transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.05)
    except (EOFError, OSError, paramiko.SSHException):
        pass  # the client went away (a rejected host key ends the handshake)
    finally:
        transport.close()


@pytest.fixture(scope="module")
def sshd(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, keys.KeyPair, keys.KeyPair]]:
    yield from _listen(tmp_path_factory.mktemp("sshd"), None)


@pytest.fixture(scope="module")
def sftpd(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, keys.KeyPair, keys.KeyPair, Path]]:
    """Like `sshd`, with an SFTP subsystem over a directory of its own (the 4th item)."""
    files = tmp_path_factory.mktemp("files")
    for port, client, host in _listen(tmp_path_factory.mktemp("sftpd"), files):
        yield port, client, host, files


def _listen(base: Path, files: Path | None) -> Iterator[tuple[int, keys.KeyPair, keys.KeyPair]]:
    client = keys.ensure_keypair(base / "client", comment="t")
    host = keys.host_keypair(base, "guest")
    host_key = paramiko.Ed25519Key.from_private_key_file(str(host.private))
    client_key = paramiko.Ed25519Key.from_private_key_file(str(client.private))

    def serve(conn: socket.socket) -> None:
        threading.Thread(
            target=_serve, args=(conn, host_key, client_key, files), daemon=True
        ).start()

    with _accepting(serve) as port:
        yield port, client, host


@contextmanager
def _accepting(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A listener on 127.0.0.1 handing each connection to `handle`; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            handle(conn)

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _addr(port: int, client: keys.KeyPair, host_key: str | None) -> guest.GuestAddress:
    return guest.GuestAddress(
        host="127.0.0.1", port=port, user="labadmin", key=client.private, host_key=host_key
    )


def test_run_with_the_pinned_host_key(sshd: tuple[int, keys.KeyPair, keys.KeyPair]) -> None:
    port, client, host = sshd
    result = guest.run(_addr(port, client, host.public_text), "hostname", timeout=10)
    assert result.exit_code == 0
    assert result.stdout == "ran: hostname\n" and result.stderr == ""
    assert result.duration > 0


def test_wait_ready_returns_the_seconds_it_took(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd
    notes: list[str] = []
    took = guest.wait_ready(_addr(port, client, host.public_text), 10, progress=notes.append)
    assert 0 < took < 10
    assert notes == [f"waiting for SSH on 127.0.0.1:{port}"]


def test_a_changed_host_key_is_refused_at_once(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair], tmp_path: Path
) -> None:
    port, client, _host = sshd
    other = keys.host_keypair(tmp_path, "impostor")
    started = time.monotonic()
    with pytest.raises(guest.HostKeyMismatchError) as info:
        guest.wait_ready(_addr(port, client, other.public_text), 30)
    assert time.monotonic() - started < 5  # no retrying: waiting does not fix it
    assert "host key" in info.value.message and "changed" in info.value.message
    assert info.value.hint
    assert other.public_text.split()[1] not in info.value.message + info.value.hint


def test_without_a_pin_the_first_key_is_trusted(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, _host = sshd
    assert guest.run(_addr(port, client, None), "true", timeout=10).exit_code == 0


def test_stderr_and_stdout_are_drained_together(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd
    result = guest.run(_addr(port, client, host.public_text), "chatty", timeout=20)
    assert result.exit_code == 3
    assert result.stdout == "done\n" and len(result.stderr) == 3_000_000


def test_a_limit_keeps_the_first_bytes_of_each_stream_and_drains_the_rest(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd
    addr = _addr(port, client, host.public_text)
    ssh = guest.connect(addr)
    try:
        result = guest.run_on(ssh, addr, "chatty", timeout=20, limit=1000)
    finally:
        ssh.close()
    assert result.exit_code == 3
    assert result.stdout == "done\n" and result.stderr == "e" * 1000


def test_a_command_over_its_timeout_is_an_error(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd
    with pytest.raises(guest.GuestUnreachableError, match="did not finish in time"):
        guest.run(_addr(port, client, host.public_text), "hang", timeout=1)


def test_a_key_the_guest_does_not_know_is_unreachable(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair], tmp_path: Path
) -> None:
    port, _client, host = sshd
    stranger = keys.ensure_keypair(tmp_path, comment="stranger")
    with pytest.raises(guest.GuestUnreachableError, match="not accepted"):
        guest.run(_addr(port, stranger, host.public_text), "true", timeout=5)


def test_wait_ready_gives_up_at_its_deadline_with_the_last_error(tmp_path: Path) -> None:
    key = keys.ensure_keypair(tmp_path, comment="t")
    addr = guest.GuestAddress(host="127.0.0.1", port=_closed_port(), user="x", key=key.private)
    notes: list[str] = []
    started = time.monotonic()
    with pytest.raises(guest.GuestUnreachableError) as info:
        guest.wait_ready(addr, deadline_s=2, progress=notes.append)
    assert time.monotonic() - started < 4
    assert "did not answer on SSH within 2 s" in info.value.message
    assert "refused" in info.value.message.lower()
    assert info.value.hint
    assert notes and notes[0].startswith("waiting for SSH")
    assert "PRIVATE" not in info.value.message


class _Booting(paramiko.ServerInterface):
    """A guest that is still booting: its probe fails the first `failing` times it is
    run, on whichever connection, then passes. Counts the connections it was given."""

    def __init__(self, allowed: paramiko.PKey, failing: int) -> None:
        self.allowed = allowed
        self.failing = failing
        self.connections = 0
        self.probes = 0

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = key.get_base64() == self.allowed.get_base64()
        return common.AUTH_SUCCESSFUL if ok else common.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return common.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.probes += 1
        status = 1 if self.probes <= self.failing else 0

        def answer() -> None:
            time.sleep(0.05)
            channel.send_exit_status(status)
            channel.close()

        threading.Thread(target=answer, daemon=True).start()
        return True


def test_a_failing_probe_is_asked_again_on_the_open_connection(tmp_path: Path) -> None:
    """While a guest boots its probe fails for a while: the wait asks again over the
    connection it has rather than with a new handshake each time (a key exchange costs
    an emulated CPU most of a second, which the booting guest then lacks)."""
    client = keys.ensure_keypair(tmp_path / "client", comment="t")
    host = keys.host_keypair(tmp_path, "guest")
    host_key = paramiko.Ed25519Key.from_private_key_file(str(host.private))
    server = _Booting(paramiko.Ed25519Key.from_private_key_file(str(client.private)), 3)
    transports: list[paramiko.Transport] = []

    def serve(conn: socket.socket) -> None:
        server.connections += 1
        transport = paramiko.Transport(conn)
        transport.add_server_key(host_key)
        transport.start_server(server=server)
        transports.append(transport)

    try:
        with _accepting(serve) as port:
            took = guest.wait_ready(_addr(port, client, host.public_text), 20, probe="test -e /b")
    finally:
        for transport in transports:
            transport.close()
    assert 0 < took < 20
    assert server.probes == 4 and server.connections == 1


def test_run_against_nothing_is_a_clear_error(tmp_path: Path) -> None:
    key = keys.ensure_keypair(tmp_path, comment="t")
    addr = guest.GuestAddress(host="127.0.0.1", port=_closed_port(), user="x", key=key.private)
    with pytest.raises(guest.GuestUnreachableError) as info:
        guest.run(addr, "true", timeout=2)
    assert "cannot reach x@127.0.0.1" in info.value.message
    assert info.value.hint


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    addr = guest.GuestAddress(host="127.0.0.1", user="x", key=tmp_path / "gone")
    with pytest.raises(NotFoundError, match="gone"):
        guest.run(addr, "true", timeout=2)


@pytest.mark.parametrize(
    "changes", [{"host": "example.org"}, {"host_key": "ssh-ed25519 !!!"}, {"host_key": "x"}]
)
def test_addresses_are_checked(tmp_path: Path, changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        guest.GuestAddress.model_validate(
            {"host": "10.0.0.1", "user": "x", "key": tmp_path, **changes}
        )


def test_streamed_output_goes_to_the_callback_not_into_memory(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd
    addr = _addr(port, client, host.public_text)
    chunks: list[bytes] = []
    opened = guest.connect(addr)
    try:
        result = guest.run_on(opened, addr, "chatty", timeout=20, on_stdout=chunks.append)
    finally:
        opened.close()
    assert b"".join(chunks) == b"done\n" and result.stdout == "" and result.exit_code == 3


def test_a_streamed_command_over_its_timeout_is_an_error(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd
    addr = _addr(port, client, host.public_text)
    opened = guest.connect(addr)
    try:
        with pytest.raises(guest.GuestUnreachableError, match="did not finish in time"):
            guest.run_on(opened, addr, "hang", timeout=1, on_stdout=lambda _: None)
    finally:
        opened.close()


def test_a_guest_refusing_sftp_is_a_lab_error_not_a_raw_exception(
    sshd: tuple[int, keys.KeyPair, keys.KeyPair],
) -> None:
    port, client, host = sshd  # this server offers no SFTP subsystem
    addr = _addr(port, client, host.public_text)
    opened = guest.connect(addr)
    try:
        with pytest.raises(guest.GuestUnreachableError, match="copying /tmp/x"):
            guest.put_file(opened, addr, "/tmp/x", b"data", timeout=5)
    finally:
        opened.close()


def test_files_go_into_the_guest_private_and_come_back_bounded(
    sftpd: tuple[int, keys.KeyPair, keys.KeyPair, Path],
) -> None:
    port, client, host, files = sftpd
    addr = _addr(port, client, host.public_text)
    opened = guest.connect(addr)
    try:
        guest.put_file(opened, addr, "/playbook.yml", b"- hosts: all\n")
        assert (files / "playbook.yml").read_bytes() == b"- hosts: all\n"
        assert oct((files / "playbook.yml").stat().st_mode & 0o777) == "0o600"
        (files / "result.json").write_bytes(b"0123456789")
        assert guest.read_file(opened, addr, "/result.json", 10) == b"0123456789"
        assert guest.read_file(opened, addr, "/result.json", 4, tail=True) == b"6789"
        with pytest.raises(LabError, match="more than the 4 accepted"):
            guest.read_file(opened, addr, "/result.json", 4)
        assert guest.read_file(opened, addr, "/missing.json", 4) is None
        with pytest.raises(guest.GuestUnreachableError, match="copying /no/such/dir/x"):
            guest.put_file(opened, addr, "/no/such/dir/x", b"data")
    finally:
        opened.close()
