"""`lab serve` itself, on loopback: HTTPS with a certificate made here, no plain HTTP
beyond loopback unless TLS or a TLS-terminating proxy is configured, and a huge body
that the real server (uvicorn, httptools) never holds."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from lab.cli import serve as serve_cli
from lab.errors import InvalidError
from lab.settings import get_settings

REPO = Path(__file__).parents[2]


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hromada-lab test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _lab_serve(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`lab serve` of this checkout on 127.0.0.1, as a process."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "LAB_HOME": str(home),
        "LAB_LIBVIRT_URI": "test:///default",
        "LAB_PREFIX": "hlt-",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", "--host", "127.0.0.1", *args],
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"lab serve ended: {err.decode(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("lab serve did not listen within 30 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = make_cert(tmp_path)
    port = _free_port()
    # The certificate from the settings (as the host playbook's unit could pass them).
    proc = _lab_serve(
        tmp_path / "home",
        "--port",
        str(port),
        env={"LAB_TLS_CERT": str(cert), "LAB_TLS_KEY": str(key)},
    )
    try:
        _wait_listening(proc, port)
        yield port, cert
    finally:
        _stop(proc)


def test_lab_serve_completes_a_tls_handshake_on_loopback(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))  # verifies name and chain
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        peer = tls.getpeercert(binary_form=True)
        assert peer == ssl.PEM_cert_to_DER_cert(cert.read_text())
        tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer
    # Plain HTTP on the same port gets no answer from the app.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def test_tls_options_on_the_command_line(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    port = _free_port()
    proc = _lab_serve(
        tmp_path / "home", "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)
    )
    try:
        _wait_listening(proc, port)
        context = ssl.create_default_context(cafile=str(cert))
        answer = httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context, timeout=10)
        assert answer.status_code == 200
    finally:
        _stop(proc)


# -- where plain HTTP may listen (uvicorn.run recorded, nothing bound) -------------------


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAB_LIBVIRT_URI", "test:///default")
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def _invoke(*args: str) -> Any:
    app = typer.Typer(pretty_exceptions_enable=False)
    serve_cli.register(app)
    app.command("version")(lambda: None)  # two commands: `serve` stays a subcommand
    return CliRunner().invoke(app, ["serve", *args])


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "lab1.centre.example"])
def test_plain_http_beyond_loopback_is_refused(recorded: list[dict[str, Any]], host: str) -> None:
    result = _invoke("--host", host, "--port", "8080")
    assert isinstance(result.exception, InvalidError), result.output
    assert "plain HTTP" in result.exception.message
    assert recorded == []  # never started


def test_loopback_tls_or_a_named_proxy_may_listen(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    cert, key = make_cert(tmp_path)
    for args in (
        ("--host", "127.0.0.1"),
        ("--host", "0.0.0.0", "--tls-cert", str(cert), "--tls-key", str(key)),
        ("--host", "0.0.0.0", "--proxy", "10.20.0.5"),
    ):
        result = _invoke(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    plain, tls, proxied = recorded
    assert plain["host"] == "127.0.0.1" and plain["ssl_certfile"] is None
    assert plain["proxy_headers"] is False  # nobody's X-Forwarded-For is believed
    assert tls["ssl_certfile"] == cert and tls["ssl_keyfile"] == key
    assert proxied["proxy_headers"] is True and proxied["forwarded_allow_ips"] == "10.20.0.5"


def test_a_certificate_without_its_key_or_a_wrong_key_is_refused(
    recorded: list[dict[str, Any]], tmp_path: Path
) -> None:
    cert, _key = make_cert(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _cert2, wrong_key = make_cert(other)
    for args in (("--tls-cert", str(cert)), ("--tls-cert", str(cert), "--tls-key", str(wrong_key))):
        result = _invoke(*args)
        assert isinstance(result.exception, InvalidError), (args, result.output)
    assert recorded == []


# -- the real server and a huge body ---------------------------------------------------


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_the_real_server_never_holds_a_huge_body(tmp_path: Path) -> None:
    port = _free_port()
    proc = _lab_serve(tmp_path / "home", "--port", str(port))
    try:
        _wait_listening(proc, port)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        before = _peak_kib(proc.pid)
        total = 64 << 20
        sent = 0
        chunk = b"{" * (256 * 1024)
        status = b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                b"POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            try:
                while sent < total:
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    sent += len(chunk)
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed: the rest is never sent
            try:
                status = s.recv(4096).split(b"\r\n", 1)[0]
            except OSError:
                status = b"(reset)"
        grown = _peak_kib(proc.pid) - before
        assert status.startswith(b"HTTP/1.1 413") or status == b"(reset)", status
        assert sent < 32 << 20, f"{sent >> 20} MiB went in before the server stopped reading"
        assert grown < 32 * 1024, f"the server's peak memory grew by {grown} KiB"
    finally:
        _stop(proc)
