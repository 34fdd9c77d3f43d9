"""Probes: the model's rules, the real probe program against loopback, the command line
under hostile values, the judging of output, the guest-agent probe and the waiting."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from lab.driver.connection import Driver
from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.labs import guest
from lab.labs.guest import CommandResult, GuestAddress
from lab.probes import remote, waiting
from lab.probes.agent import agent_probe
from lab.probes.model import ProbeKind, ProbeResult, ProbeSpec
from lab.probes.remote import PROGRAM, parse_output, probe_command, run_probes
from lab.probes.waiting import ProbesFailedError, wait_until_ok
from tests.hostile import BOUNDED, hostile_text

LOOPBACK = "127.0.0.1"
PAGE = b"<html><head><title>Vendor Docflow</title></head><body>Sign in</body></html>"


def spec(kind: str, **fields: Any) -> ProbeSpec:
    fields.setdefault("machine", "docflow")
    if kind != "agent":
        fields.setdefault("address", LOOPBACK)
    return ProbeSpec(kind=ProbeKind(kind), **fields)


# -- the model --------------------------------------------------------------------------


def test_describe_says_what_is_probed() -> None:
    address = "10.77.0.20"
    assert spec("http", address=address, path="/health").describe() == (
        "HTTP http://10.77.0.20:80/health"
    )
    assert spec("https", address=address).describe() == "HTTPS https://10.77.0.20:443/"
    assert spec("tcp", address=address, port=22).describe() == "TCP 10.77.0.20:22"
    assert spec("icmp", address=address).describe() == "ICMP 10.77.0.20"
    assert spec("agent").describe() == "guest agent"


def test_describe_a_client_probe_without_its_password() -> None:
    address = "10.0.0.5"
    smb = spec("smb", address=address, share="share", user="operator", password="pw-1$")
    assert smb.describe() == "SMB //10.0.0.5/share as operator"
    assert spec("smb", address=address).describe() == "SMB //10.0.0.5 anonymously"
    other_port = spec("smb", address=address, port=139)
    assert other_port.describe() == "SMB //10.0.0.5 (port 139) anonymously"
    dn = "uid=x,ou=people,dc=t"
    ldap = spec("ldap", address=address, user=dn, password="pw-1$")
    assert ldap.describe() == f"LDAP bind ldap://10.0.0.5:389 as {dn}"
    assert spec("ldap", address=address).describe() == "LDAP anonymous bind ldap://10.0.0.5:389"
    sql = spec(
        "sql", address=address, user="operator", password="pw-1$", database="db", query="select 1"
    )
    assert sql.describe() == "SQL 'select 1' on postgres://operator@10.0.0.5:5432/db"
    for s in (smb, ldap, sql):
        assert "pw-1$" not in s.describe() + repr(s) + str(s)


@pytest.mark.parametrize(
    ("kind", "fields", "words"),
    [
        ("tcp", {}, "needs a port"),
        ("http", {"address": None}, "needs an address"),
        ("agent", {"address": LOOPBACK}, "takes no address"),
        ("icmp", {"port": 7}, "takes no port"),
        ("tcp", {"port": 0}, "not between 1 and 65535"),
        ("tcp", {"port": 70000}, "not between 1 and 65535"),
        ("tcp", {"port": 22, "path": "/x"}, "takes no path"),
        ("icmp", {"expect_text": "ok"}, "takes no path"),
        ("http", {"path": "health"}, "not a URL path"),
        ("http", {"path": "/a b"}, "not a URL path"),
        ("http", {"path": "/a\nb"}, "not a URL path"),
        ("http", {"path": "/" + "a" * 200}, "not a URL path"),
        ("http", {"path": "/Громада"}, "not a URL path"),
        ("http", {"expect_status": 42}, "not an HTTP status"),
        ("http", {"expect_text": ""}, "expected text"),
        ("http", {"expect_text": "two\nlines"}, "expected text"),
        ("http", {"timeout": 0}, "timeout"),
        ("http", {"timeout": 600}, "timeout"),
        ("http", {"user": "x"}, "takes no user"),
        ("tcp", {"port": 22, "password": "x"}, "takes no password"),
        ("smb", {"path": "/x"}, "takes no path"),
        ("smb", {"expect_text": "two\nlines"}, "expected text"),
        ("smb", {"password": "pw"}, "a password but no user"),
        ("smb", {"user": "a%b"}, "not a user name"),
        ("smb", {"share": "a b"}, "not a share name"),
        ("smb", {"database": "db"}, "takes no database"),
        ("ldap", {"share": "docs"}, "takes no share"),
        ("ldap", {"user": "uid=a\nb"}, "not a user name"),
        ("ldap", {"user": "-x"}, "not a user name"),
        ("ldap", {"user": "x" * 201}, "not a user name"),
        ("ldap", {"user": "cn=a", "password": "line\nbreak"}, "password is too long or not"),
        ("ldap", {"query": "select 1"}, "takes no database or query"),
        ("sql", {"user": "op", "database": "db"}, "needs a user, a database and a query"),
        ("sql", {"database": "db", "query": "select 1"}, "needs a user"),
        ("sql", {"user": "op", "database": "1db", "query": "q"}, "not a database name"),
        ("sql", {"user": "op", "database": "db", "query": "a\nb"}, "not one line"),
        ("sql", {"user": "op", "database": "db", "query": "x" * 501}, "too long"),
        ("sql", {"user": "op", "database": "db", "query": "  "}, "empty"),
    ],
)
def test_a_spec_that_cannot_work_is_refused(kind: str, fields: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidError, match=words) as caught:
        spec(kind, **fields)
    assert "docflow" in caught.value.message


def test_a_refused_password_is_not_shown() -> None:
    with pytest.raises(InvalidError) as caught:
        spec("ldap", user="cn=a", password="s3cr3t\n-pw")
    assert "s3cr3t" not in caught.value.message + caught.value.hint + str(caught.value)


def test_client_probes_have_default_ports() -> None:
    assert spec("smb").port == 445 and spec("ldap").port == 389
    assert spec("sql", user="u", database="d", query="select 1").port == 5432


def test_specs_are_frozen() -> None:
    s = spec("tcp", port=22)
    with pytest.raises(ValueError, match="frozen"):
        s.port = 23  # type: ignore[misc]


# -- the probe program, run for real against loopback -----------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        pages = {"/": PAGE, "/health": b"ok"}
        body = pages.get(self.path, b"not found")
        self.send_response(200 if self.path in pages else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def web() -> Iterator[int]:
    """A tiny web server on loopback: / is the appliance's page, /health says ok."""
    server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections (the kernel does) but never says a word."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        s.listen(8)
        yield int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The same server over TLS, with a self-signed certificate for another name."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "appliance.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server = ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def probe_here(*specs: ProbeSpec) -> tuple[ProbeResult, ...]:
    """Run the shipped program text in this process, as the guest's python3 would."""
    argv = shlex.split(probe_command(specs))
    out = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        pytest.raises(SystemExit) as exited,
    ):
        patch.setattr(sys, "argv", ["-c", argv[-1]])
        exec(argv[-2], {"__name__": "__main__"})
    assert exited.value.code == 0
    return parse_output(out.getvalue(), specs)


def test_a_page_with_the_expected_text_passes(web: int) -> None:
    (result,) = probe_here(spec("http", port=web, expect_text="Vendor Docflow"))
    assert result.ok
    assert result.detail == "answered HTTP 200 and the page contains 'Vendor Docflow'"


def test_a_page_without_the_expected_text_fails_and_shows_its_start(web: int) -> None:
    (result,) = probe_here(spec("http", port=web, path="/health", expect_text="Vendor Docflow"))
    assert not result.ok
    assert result.detail == (
        "HTTP 200, but the page does not contain 'Vendor Docflow' (it begins: 'ok')"
    )


def test_an_unexpected_status_fails(web: int) -> None:
    (result,) = probe_here(spec("http", port=web, path="/missing"))
    assert not result.ok
    assert result.detail == "HTTP 404 (expected 200)"
    (expected,) = probe_here(spec("http", port=web, path="/missing", expect_status=404))
    assert expected.ok and expected.detail == "answered HTTP 404"


def test_tcp_open_and_closed_ports(web: int) -> None:
    closed = _closed_port()
    open_, refused = probe_here(spec("tcp", port=web), spec("tcp", port=closed))
    assert open_.ok and open_.detail == f"port {web} is open"
    assert not refused.ok
    assert refused.detail == f"connection refused: nothing listens on port {closed}"


def test_https_against_a_plain_http_port_says_the_handshake_failed(web: int) -> None:
    (result,) = probe_here(spec("https", port=web))
    assert not result.ok
    assert result.detail == "the TLS handshake failed: the port does not speak TLS (plain HTTP?)"


def test_https_with_a_self_signed_certificate_passes(tls_web: int) -> None:
    (result,) = probe_here(spec("https", port=tls_web, expect_text="Vendor Docflow"))
    assert result.ok, result.detail


def test_a_port_that_never_answers_times_out(silent: int) -> None:
    (result,) = probe_here(spec("http", port=silent, timeout=0.5))
    assert not result.ok
    assert result.detail == "no answer within 0.5 s"


def test_many_probes_run_at_once_and_answer_in_order(web: int, silent: int) -> None:
    # Four silent probes of 1 s each: run one after another they would take 4 s.
    slow = [spec("http", port=silent, timeout=1.0) for _ in range(4)]
    started = time.monotonic()
    results = probe_here(*slow, spec("tcp", port=web))
    assert time.monotonic() - started < 3.5
    assert [r.ok for r in results] == [False] * 4 + [True]
    assert [r.spec for r in results] == [*slow, spec("tcp", port=web)]


@pytest.mark.skipif(os.geteuid() != 0, reason="a raw ICMP socket needs root")
def test_a_ping_to_loopback_is_answered() -> None:
    (result,) = probe_here(spec("icmp", timeout=2.0))
    assert result.ok and result.detail == "answered a ping"


def test_the_command_line_runs_as_its_own_program(web: int) -> None:
    # The whole command as the guest's shell would split it, run by a fresh interpreter
    # (sudo and the guest's python3 replaced by this one): nothing of the lab is imported.
    specs = (spec("http", port=web, expect_text="Sign in"), spec("tcp", port=_closed_port()))
    argv = shlex.split(probe_command(specs))
    assert argv[:3] == ["sudo", "-n", "python3"]
    proc = subprocess.run(
        [sys.executable, "-I", *argv[3:]], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert [r.ok for r in parse_output(proc.stdout, specs)] == [True, False]


# -- the command line under hostile values ----------------------------------------------

# Paths the model accepts, made of the characters a shell cares about most.
NASTY_PATHS = st.text(alphabet=st.sampled_from("'\"$`;|&<>(){}[]*?!#~\\%=/az09"), max_size=60)


@BOUNDED
@given(
    path=st.one_of(hostile_text(60), NASTY_PATHS.map(lambda p: "/" + p)),
    text=hostile_text(60),
    machine=hostile_text(40),
)
def test_hostile_values_cannot_change_the_command(path: str, text: str, machine: str) -> None:
    try:
        s = ProbeSpec(
            kind=ProbeKind.HTTP, machine=machine, address="10.77.0.20", path=path, expect_text=text
        )
    except InvalidError:
        return  # refused with a message: nothing is run
    argv = shlex.split(probe_command((s, s)))
    assert argv[:-1] == ["sudo", "-n", "python3", "-c", PROGRAM]
    sent = json.loads(argv[-1])
    expected = {"kind": "http", "address": "10.77.0.20", "port": 80, "path": path, "timeout": 5.0}
    assert sent == [expected, expected]


def test_the_text_looked_for_never_leaves_the_host() -> None:
    s = spec("http", expect_text="$(reboot)")
    assert "reboot" not in probe_command((s,))


def test_the_command_refuses_what_it_cannot_run() -> None:
    with pytest.raises(InvalidError, match="from the host"):
        probe_command((spec("agent"),))
    with pytest.raises(InvalidError, match="between 1 and"):
        probe_command(())
    with pytest.raises(InvalidError, match="between 1 and"):
        probe_command((spec("tcp", port=22),) * (remote.PROBES_LIMIT + 1))


@BOUNDED
@given(
    user=hostile_text(60),
    password=st.one_of(hostile_text(60), st.sampled_from(["'", '"', "$(reboot)", "a\nb", "`id`"])),
    query=hostile_text(80),
    share=st.one_of(st.none(), hostile_text(20)),
)
def test_hostile_client_values_stay_inside_the_json_argument(
    user: str, password: str, query: str, share: str | None
) -> None:
    try:
        sql = ProbeSpec(
            kind=ProbeKind.SQL,
            machine="db",
            address="10.77.0.20",
            user=user,
            password=password,
            database="docflow",
            query=query,
        )
        smb = ProbeSpec(
            kind=ProbeKind.SMB,
            machine="fs",
            address="10.77.0.21",
            user=user,
            password=password,
            share=share,
        )
    except InvalidError as exc:
        if len(password) >= 6 and password not in user + query + (share or ""):
            assert password not in exc.message + exc.hint  # a secret is never shown
        return  # refused with a message: nothing is run
    argv = shlex.split(probe_command((sql, smb)))
    assert argv[:-1] == ["sudo", "-n", "python3", "-c", PROGRAM]
    sent = json.loads(argv[-1])
    common = {"user": user, "password": password, "timeout": 5.0}
    assert sent[0] == {
        "kind": "sql",
        "address": "10.77.0.20",
        "port": 5432,
        "database": "docflow",
        "query": query,
        **common,
    }
    assert sent[1] == {
        "kind": "smb",
        "address": "10.77.0.21",
        "port": 445,
        **({"share": share} if share is not None else {}),
        **common,
    }


# -- client probes, with fake clients on PATH --------------------------------------------

_FAKE = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
record = {{"argv": args, "env": dict(os.environ)}}
if "-y" in args:
    path = args[args.index("-y") + 1]
    record["file"] = {{"path": path, "mode": os.stat(path).st_mode & 0o777}}
    with open(path, encoding="utf-8") as f:
        record["file"]["text"] = f.read()
with open({log!r}, "w", encoding="utf-8") as f:
    json.dump(record, f)
sys.stdout.write({stdout!r})
sys.stderr.write({stderr!r})
sys.exit({code})
"""


class FakeClients:
    """Executables named like the real clients in a directory first on PATH: each records
    its arguments, environment and -y file, prints what it is told and exits with `code`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def make(self, name: str, stdout: str = "", stderr: str = "", code: int = 0) -> None:
        script = self.directory / name
        log = str(self.directory / f"{name}.json")
        script.write_text(
            _FAKE.format(python=sys.executable, log=log, stdout=stdout, stderr=stderr, code=code),
            encoding="utf-8",
        )
        script.chmod(0o755)

    def seen(self, name: str) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(
            (self.directory / f"{name}.json").read_text(encoding="utf-8")
        )
        return record


@pytest.fixture
def clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeClients:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return FakeClients(directory)


SHARES = "Disk|cnap|ЦНАП\nDisk|finance|\nIPC|IPC$|IPC Service\nDisk|print$|Drivers\n"
LS = """\
  .                                   D        0  Mon Dec  1 10:00:00 2026
  ..                                  D        0  Mon Dec  1 10:00:00 2026
  заява.odt                           N    12345  Mon Dec  1 10:00:00 2026
  reports                             D        0  Mon Dec  1 10:00:00 2026

\t\t20511312 blocks of size 1024. 9123 blocks available
"""


def test_smb_lists_the_servers_shares_with_the_password_in_the_environment(
    clients: FakeClients,
) -> None:
    clients.make("smbclient", stdout=SHARES)
    s = spec("smb", user="operator", password="pw '$(id)'")
    (result,) = probe_here(s)
    assert result.ok and result.detail == "listed 3 shares on //127.0.0.1"
    seen = clients.seen("smbclient")
    assert seen["argv"] == ["-L", "//127.0.0.1", "-g", "-p", "445", "-m", "SMB3", "-U", "operator"]
    assert seen["env"]["PASSWD"] == "pw '$(id)'"
    assert not any("pw" in arg for arg in seen["argv"])


def test_smb_lists_a_share_anonymously(clients: FakeClients) -> None:
    clients.make("smbclient", stdout=LS)
    (result,) = probe_here(spec("smb", share="cnap", port=4445))
    assert result.ok and result.detail == "the share //127.0.0.1/cnap holds 2 entries"
    seen = clients.seen("smbclient")
    assert seen["argv"] == ["//127.0.0.1/cnap", "-c", "ls", "-p", "4445", "-m", "SMB3", "-N"]
    assert "PASSWD" not in seen["env"]


def test_smb_with_expected_text(clients: FakeClients) -> None:
    clients.make("smbclient", stdout=LS)
    (found,) = probe_here(spec("smb", share="cnap", expect_text="заява"))
    assert found.ok and found.detail == "smbclient succeeded and its output contains 'заява'"
    (missing,) = probe_here(spec("smb", share="cnap", expect_text="звіт"))
    assert not missing.ok
    assert missing.detail.startswith("smbclient succeeded, but its output does not contain '")


def test_smb_refused(clients: FakeClients) -> None:
    clients.make("smbclient", stderr="session setup failed: NT_STATUS_LOGON_FAILURE\n", code=1)
    (result,) = probe_here(spec("smb", user="operator", password="wrong-pw"))
    assert not result.ok
    assert result.detail == (
        "smbclient could not list //127.0.0.1 as operator:"
        " session setup failed: NT_STATUS_LOGON_FAILURE"
    )
    assert "wrong-pw" not in result.detail


def test_ldap_binds_with_the_password_in_a_private_file_removed_after(
    clients: FakeClients,
) -> None:
    dn = "uid=operator,ou=people,dc=t,dc=lab"
    clients.make("ldapwhoami", stdout=f"dn:{dn}\n")
    (result,) = probe_here(spec("ldap", user=dn, password='pw"$(id)'))
    assert result.ok and result.detail == f"LDAP bind as {dn} accepted (the server says: 'dn:{dn}')"
    seen = clients.seen("ldapwhoami")
    argv = seen["argv"]
    assert argv[:6] == ["-x", "-H", "ldap://127.0.0.1:389", "-o", "nettimeout=5", "-D"]
    assert argv[6] == dn and argv[7] == "-y" and len(argv) == 9
    assert seen["file"]["text"] == 'pw"$(id)' and seen["file"]["mode"] == 0o600
    assert not Path(seen["file"]["path"]).exists()
    assert not any("pw" in arg for arg in argv)


def test_ldap_anonymous_bind_and_refusal(clients: FakeClients) -> None:
    clients.make("ldapwhoami", stdout="anonymous\n")
    (result,) = probe_here(spec("ldap", port=1389))
    assert result.ok and "anonymous" in result.detail
    assert clients.seen("ldapwhoami")["argv"] == [
        "-x", "-H", "ldap://127.0.0.1:1389", "-o", "nettimeout=5"
    ]  # fmt: skip
    clients.make("ldapwhoami", stderr="ldap_bind: Invalid credentials (49)\n", code=49)
    (refused,) = probe_here(spec("ldap", user="uid=x", password="bad"))
    assert not refused.ok
    assert refused.detail == "LDAP bind as uid=x refused: ldap_bind: Invalid credentials (49)"


def test_sql_runs_the_query_with_the_password_in_the_environment(clients: FakeClients) -> None:
    clients.make("psql", stdout="1\n")
    s = spec("sql", user="operator", password="pw;--", database="docflow", query="select 1")
    (result,) = probe_here(s)
    assert result.ok and result.detail == "the query returned 1 row (the first: '1')"
    seen = clients.seen("psql")
    assert seen["argv"] == [
        "-X", "-w", "-h", "127.0.0.1", "-p", "5432", "-U", "operator", "-d", "docflow",
        "-tA", "-v", "ON_ERROR_STOP=1", "-c", "select 1",
    ]  # fmt: skip
    assert seen["env"]["PGPASSWORD"] == "pw;--" and seen["env"]["PGCONNECT_TIMEOUT"] == "5"
    assert not any("pw" in arg for arg in seen["argv"])


def test_sql_judging(clients: FakeClients) -> None:
    fields: dict[str, Any] = {"user": "op", "database": "db", "query": "select name from t"}
    clients.make("psql", stdout="")
    (empty,) = probe_here(spec("sql", **fields))
    assert not empty.ok and empty.detail == "the query returned no row"
    clients.make("psql", stdout="Docflow\nOther\n")
    (text,) = probe_here(spec("sql", expect_text="Docflow", **fields))
    assert text.ok and text.detail == "psql succeeded and its output contains 'Docflow'"
    clients.make("psql", stderr='psql: error: FATAL:  database "db" does not exist\n', code=2)
    (failed,) = probe_here(spec("sql", **fields))
    assert not failed.ok
    assert failed.detail == 'the query failed: psql: error: FATAL:  database "db" does not exist'


def test_a_missing_client_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    results = probe_here(
        spec("smb"), spec("ldap"), spec("sql", user="u", database="d", query="select 1")
    )
    assert [r.ok for r in results] == [False, False, False]
    assert results[0].detail == (
        "the checking machine has no smbclient (install smbclient there, e.g. give it the"
        " workstation role)"
    )
    assert "no ldapwhoami (install ldap-utils" in results[1].detail
    assert "no psql (install postgresql-client" in results[2].detail


def test_a_client_that_hangs_times_out(clients: FakeClients) -> None:
    clients.make("ldapwhoami")
    script = clients.directory / "ldapwhoami"
    script.write_text(script.read_text().replace("args = ", "import time; time.sleep(30)\nargs = "))
    started = time.monotonic()
    (result,) = probe_here(spec("ldap", timeout=1))
    assert time.monotonic() - started < 10
    assert not result.ok and result.detail == "no answer within 1 s"


# -- judging output ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        "not json at all",
        "Traceback (most recent call last):\n  File ...\nKeyError: 'kind'",
        '{"answers": []}',
        '{"answers": [{"ok": "maybe"}]}',
        '{"answers": [1, 2]}',
        "[]",
        "\x00\x1b[31m" * 50,
    ],
)
def test_garbage_output_fails_every_probe_with_the_reason(stdout: str) -> None:
    specs = (spec("tcp", port=22), spec("icmp"))
    results = parse_output(stdout, specs)
    assert [r.spec for r in results] == list(specs)
    assert not any(r.ok for r in results)
    assert all(
        r.detail.startswith("the probe program on the checking machine failed") for r in results
    )


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("unreachable", "host unreachable"),
        ("no-route", "no route"),
        ("reset", "reset"),
        ("not-http", "not with HTTP"),
        ("tls", "the TLS handshake failed ('boom'): does the port speak HTTPS?"),
        ("permission", "needs root"),
        ("something new", "the probe failed: 'boom'"),
    ],
)
def test_each_failure_has_words(error: str, words: str) -> None:
    answer = {"ok": False, "error": error, "message": "boom", "status": None, "body": None}
    (result,) = parse_output(json.dumps({"answers": [answer]}), (spec("http"),))
    assert not result.ok and words in result.detail


def test_an_empty_page_is_said_to_be_empty() -> None:
    answer = {"ok": True, "error": None, "message": "", "status": 200, "body": ""}
    (result,) = parse_output(json.dumps({"answers": [answer]}), (spec("http", expect_text="x"),))
    assert result.detail == "HTTP 200, but the page does not contain 'x' (the page is empty)"


def test_run_probes_goes_through_guest_run(monkeypatch: pytest.MonkeyPatch) -> None:
    addr = GuestAddress(host="10.77.0.10", user="labadmin", key=Path("/nonexistent"))
    seen: list[tuple[str, float]] = []
    replies = iter(
        [
            CommandResult(
                exit_code=1, stdout="", stderr="sudo: a password is required\n", duration=0
            ),
            CommandResult(
                exit_code=0,
                stdout=json.dumps(
                    {
                        "answers": [
                            {"ok": True, "error": None, "message": "", "status": None, "body": None}
                        ]
                    }
                ),
                stderr="",
                duration=0,
            ),
        ]
    )

    def fake_run(a: GuestAddress, command: str, timeout: float = 60.0) -> CommandResult:
        assert a == addr
        seen.append((command, timeout))
        return next(replies)

    monkeypatch.setattr(guest, "run", fake_run)
    specs = (spec("tcp", port=22),)
    assert run_probes(addr, (), timeout=20) == ()
    assert seen == []
    (failed,) = run_probes(addr, specs, timeout=20)
    assert not failed.ok and "sudo: a password is required" in failed.detail
    (passed,) = run_probes(addr, specs, timeout=20)
    assert passed.ok
    assert seen[0] == (probe_command(specs), 20)


# -- the guest agent --------------------------------------------------------------------


class _FakeDriver:
    def __init__(self, answer: bool | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int]] = []

    def qemu_agent_ping(self, name: str, timeout: int = 5) -> bool:
        self.asked.append((name, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _agent(answer: bool | Exception, **fields: Any) -> tuple[ProbeResult, _FakeDriver]:
    driver = _FakeDriver(answer)
    return agent_probe(cast(Driver, driver), "lab-demo-docflow", spec("agent", **fields)), driver


def test_the_guest_agent_probe() -> None:
    result, driver = _agent(True, timeout=2.5)
    assert result.ok and driver.asked == [("lab-demo-docflow", 3)]
    result, _ = _agent(False)
    assert not result.ok and "did not answer within 5 s" in result.detail
    result, _ = _agent(ConflictError("cannot ping: domain is not running"))
    assert not result.ok and result.detail == "the machine is not running"
    with pytest.raises(NotFoundError):
        _agent(NotFoundError("no domain"))
    with pytest.raises(InvalidError, match="not a guest-agent probe"):
        agent_probe(cast(Driver, _FakeDriver(True)), "x", spec("icmp"))


# -- waiting ----------------------------------------------------------------------------


class _Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    monkeypatch.setattr(waiting, "monotonic", c.monotonic)
    monkeypatch.setattr(waiting, "sleep", c.sleep)
    return c


WEB = spec("http", address="10.77.0.20", path="/health")
SSH = spec("tcp", address="10.77.0.20", port=22)


def _results(*oks: bool) -> tuple[ProbeResult, ...]:
    return tuple(
        ProbeResult(spec=s, ok=ok, detail="fine" if ok else "connection refused")
        for s, ok in zip((WEB, SSH), oks, strict=False)
    )


def test_waiting_ends_when_every_probe_passes(clock: _Clock) -> None:
    answers = iter([_results(False, True), _results(False, False), _results(True, True)])
    notes: list[str] = []
    results = wait_until_ok(lambda: next(answers), deadline_s=60, note=notes.append)
    assert all(r.ok for r in results)
    assert clock.now == 1004.0  # two pauses of 2 s
    assert notes == [
        "waiting for docflow: HTTP http://10.77.0.20:80/health: connection refused"
    ]  # the second failure came 2 s later: no second line


def test_waiting_notes_at_most_every_15_seconds(clock: _Clock) -> None:
    notes: list[str] = []
    with pytest.raises(ProbesFailedError):
        wait_until_ok(lambda: _results(False, False), deadline_s=40, note=notes.append, every=1)
    assert len(notes) == 3  # at 0, 15 and 30 s
    assert notes[0].endswith("connection refused (and 1 more)")


def test_probes_still_failing_at_the_deadline_are_each_named(clock: _Clock) -> None:
    calls = 0

    def run() -> tuple[ProbeResult, ...]:
        nonlocal calls
        calls += 1
        return _results(False, False)

    with pytest.raises(ProbesFailedError) as caught:
        wait_until_ok(run, deadline_s=10, note=lambda _line: None)
    error = caught.value
    assert error.message.startswith("2 probes still failing after 10 s:")
    assert "docflow: HTTP http://10.77.0.20:80/health: connection refused" in error.message
    assert "docflow: TCP 10.77.0.20:22: connection refused" in error.message
    assert error.hint
    assert clock.now == 1010.0 and calls == 6  # at 0, 2, 4, 6, 8 and 10 s
