"""The probe program: runs on a managed machine of the lab, as root (sudo), with its python3.

Shipped whole as `python3 -c SOURCE PROBES` by lab.probes.remote, so it imports nothing but
the standard library and reads its probes from its argument (JSON), never from a shell:

    [{"kind": "http", "address": "10.77.0.20", "port": 80, "path": "/health", "timeout": 5}]

It runs them at once (a thread each) and prints one JSON line, the answers in order:

    {"answers": [{"ok": true, "error": null, "message": "", "status": 200, "body": "..."}]}

`ok` says the address answered (a TCP connection, a ping reply, any HTTP response); whether
the answer is the expected one (status, text) is judged by the host. `error` is one of
ERRORS when it did not answer. The machine has no curl, ping or nc: sockets, http.client
and ssl do it all; ICMP uses a raw socket, hence root.

SMB, LDAP and SQL probes run the machine's own client (smbclient, ldapwhoami, psql) from
an argument list, never a shell; passwords reach it through its environment or a 0600 file,
never its command line. Their answer adds the client's `exit` code and `output` (the first
64 KiB of its stdout); `message` is the last line of its stderr.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import math
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

BODY_LIMIT = 65536  # bytes of a page sent back for the host to search
_MESSAGE_LIMIT = 200
_PING_EVERY = 1.0  # a lost echo request (the first, while ARP resolves) is sent again
_PAYLOAD = b"hromada-lab-probe"
_ICMP_ECHO_REPLY, _ICMP_UNREACHABLE, _ICMP_ECHO = 0, 3, 8
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# What kept an address from answering.
ERRORS = (
    "refused",  # nothing listens on the port
    "timeout",  # no answer in time
    "unreachable",  # nothing on the network has the address (ARP failed)
    "no-route",  # the prober has no route to the address
    "reset",  # the connection was cut
    "tls",  # HTTPS: the TLS handshake failed
    "not-http",  # the port answered, but not with HTTP
    "permission",  # the program may not open a raw socket (not root)
    "no-client",  # SMB, LDAP, SQL: the machine has no such client (message: its name)
    "error",  # anything else: see the message
)

Answer = dict[str, Any]


def main(argv: list[str]) -> int:
    probes = json.loads(argv[1])
    base = random.randrange(1, 0xFFFF)  # ICMP identifiers, one per probe
    with ThreadPoolExecutor(max_workers=max(1, min(32, len(probes)))) as pool:
        answers = list(
            pool.map(lambda ip: _run(ip[1], (base + ip[0]) % 0xFFFF + 1), enumerate(probes))
        )
    sys.stdout.write(json.dumps({"answers": answers}) + "\n")
    return 0


def _run(probe: dict[str, Any], ident: int) -> Answer:
    kind, address, timeout = probe["kind"], probe["address"], float(probe["timeout"])
    try:
        if kind == "tcp":
            with socket.create_connection((address, int(probe["port"])), timeout=timeout):
                return _answer()
        if kind == "icmp":
            return _ping(address, timeout, ident)
        if kind in ("http", "https"):
            return _http(kind, address, int(probe["port"]), probe["path"], timeout)
        if kind in ("smb", "ldap", "sql"):
            return _client(kind, probe, timeout)
        return _failure("error", f"unknown probe kind {kind!r}")
    # Every failure is an answer, and the other probes go on. ValueError and the like:
    # a probe the host should not have sent (it validates them), reported, not raised.
    except (OSError, EOFError, http.client.HTTPException, ValueError, KeyError, TypeError) as exc:
        return _classify(exc)


def _answer(status: int | None = None, body: str | None = None) -> Answer:
    return {"ok": True, "error": None, "message": "", "status": status, "body": body}


def _client(kind: str, probe: dict[str, Any], timeout: float) -> Answer:
    """Run the client a probe of `kind` needs; its exit code and output are the answer."""
    env = {"PATH": os.environ.get("PATH") or _PATH, "LC_ALL": "C", "HOME": "/nonexistent"}
    address, port = probe["address"], str(int(probe["port"]))
    user, password = probe.get("user"), probe.get("password")
    secret_file = None
    if kind == "smb":
        share = probe.get("share")
        argv = ["smbclient"]
        argv += [f"//{address}/{share}", "-c", "ls"] if share else ["-L", f"//{address}", "-g"]
        argv += ["-p", port, "-m", "SMB3"]
        if user:
            argv += ["-U", user]
            env["PASSWD"] = password or ""
        else:
            argv += ["-N"]
    elif kind == "ldap":
        argv = ["ldapwhoami", "-x", "-H", f"ldap://{address}:{port}"]
        argv += ["-o", f"nettimeout={math.ceil(timeout)}"]
        if user:
            argv += ["-D", user]
            if password is not None:
                # ldapwhoami takes the whole file as the password: no newline is added.
                fd, secret_file = tempfile.mkstemp(prefix="probe-")  # mode 0600
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(password)
                argv += ["-y", secret_file]
    else:
        argv = ["psql", "-X", "-w", "-h", address, "-p", port, "-U", str(user), "-d"]
        argv += [probe["database"], "-tA", "-v", "ON_ERROR_STOP=1", "-c", probe["query"]]
        env["PGCONNECT_TIMEOUT"] = str(max(2, math.ceil(timeout)))
        if password is not None:
            env["PGPASSWORD"] = password
    try:
        done = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return _failure("no-client", argv[0])
    except subprocess.TimeoutExpired:
        return _failure("timeout", f"{argv[0]} did not finish")
    finally:
        if secret_file is not None:
            os.unlink(secret_file)
    errors = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
    answer = _answer()
    answer["message"] = (errors[-1].strip() if errors else "")[:_MESSAGE_LIMIT]
    answer["exit"] = done.returncode
    answer["output"] = done.stdout[:BODY_LIMIT].decode("utf-8", errors="replace")
    return answer


def _failure(error: str, message: str) -> Answer:
    message = message[:_MESSAGE_LIMIT]
    return {"ok": False, "error": error, "message": message, "status": None, "body": None}


def _classify(exc: BaseException) -> Answer:
    message = str(exc) or type(exc).__name__
    # Order matters: RemoteDisconnected is a ConnectionResetError, SSLError an OSError.
    if isinstance(exc, http.client.HTTPException):
        return _failure("not-http", message)
    if isinstance(exc, ssl.SSLError):
        return _failure("tls", getattr(exc, "reason", None) or message)
    if isinstance(exc, ConnectionRefusedError):
        return _failure("refused", message)
    if isinstance(exc, TimeoutError):
        return _failure("timeout", message)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return _failure("reset", message)
    if isinstance(exc, PermissionError):
        return _failure("permission", message)
    if isinstance(exc, OSError) and exc.errno == errno.EHOSTUNREACH:
        return _failure("unreachable", message)
    if isinstance(exc, OSError) and exc.errno == errno.ENETUNREACH:
        return _failure("no-route", message)
    return _failure("error", message)


def _http(kind: str, address: str, port: int, path: str, timeout: float) -> Answer:
    deadline = time.monotonic() + timeout
    conn: http.client.HTTPConnection
    if kind == "https":
        conn = http.client.HTTPSConnection(address, port, timeout=timeout, context=_tls())
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError) as exc:
            # Connected, then the handshake failed: most often the port does not speak TLS.
            if kind == "https":
                return _failure("tls", getattr(exc, "reason", None) or str(exc) or "closed")
            raise
        conn.request("GET", path, headers={"User-Agent": "hromada-lab-probe", "Accept": "*/*"})
        response = conn.getresponse()
        body = bytearray()
        while len(body) < BODY_LIMIT and time.monotonic() < deadline:
            chunk = response.read(BODY_LIMIT - len(body))
            if not chunk:
                break
            body += chunk
        return _answer(response.status, body.decode("utf-8", errors="replace"))
    finally:
        conn.close()


def _tls() -> ssl.SSLContext:
    # Appliances present self-signed certificates, often old ones: the probe asks whether
    # the service answers, not whom to trust, so nothing is verified.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError):  # an OpenSSL without levels: its defaults do
        context.set_ciphers("DEFAULT:@SECLEVEL=1")
    return context


def _ping(address: str, timeout: float, ident: int) -> Answer:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        seq, next_send = 0, 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_send:
                seq += 1
                sock.sendto(_echo_request(ident, seq), (address, 0))
                next_send = now + _PING_EVERY
            sock.settimeout(max(0.01, min(next_send, deadline) - now))
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            kind = _reply_kind(data, ident)
            if kind == _ICMP_ECHO_REPLY and peer[0] == address:
                return _answer()
            if kind == _ICMP_UNREACHABLE:
                return _failure("unreachable", f"{peer[0]} reports {address} unreachable")
    return _failure("timeout", "no echo reply")


def _echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", _ICMP_ECHO, 0, 0, ident, seq)
    checksum = _checksum(header + _PAYLOAD)
    return struct.pack("!BBHHH", _ICMP_ECHO, 0, checksum, ident, seq) + _PAYLOAD


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _reply_kind(packet: bytes, ident: int) -> int | None:
    """The ICMP type of a packet (IP header included) that answers our echo `ident`:
    an echo reply carrying it, or an error quoting our request. None for anything else."""
    icmp = packet[(packet[0] & 0x0F) * 4 :] if packet else b""
    if len(icmp) < 8:
        return None
    kind: int = icmp[0]
    reply_ident: int = struct.unpack("!H", icmp[4:6])[0]
    if kind == _ICMP_ECHO_REPLY:
        return kind if reply_ident == ident else None
    if kind == _ICMP_UNREACHABLE:
        quoted = icmp[8:]  # the IP header and first 8 bytes of the packet it refused
        inner = quoted[(quoted[0] & 0x0F) * 4 :] if quoted else b""
        if len(inner) >= 8:
            inner_ident: int = struct.unpack("!H", inner[4:6])[0]
            if inner[0] == _ICMP_ECHO and inner_ident == ident:
                return kind
    return None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
