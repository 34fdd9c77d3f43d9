"""API latency under load, and how fast operations are accepted.

    .venv/bin/python -m bench.api [--httpx]

Starts `lab serve` on 127.0.0.1 (a free port) over a throw-away LAB_HOME holding 200
recorded labs and libvirt's test driver (no VMs, no libvirtd, no namespace needed),
then: 50 concurrent clients GET /api/v1/labs and /api/v1/labs/{name}, printing
p50/p95 latency; and 50 concurrent clients creating labs (202 + a persisted
operation each; the operations then fail, there is no image), printing the rate.

Each client is one keep-alive HTTP/1.1 connection of its own, driven by a minimal
client (`Client`), because the clients share the machine's CPU with the server: on 2
cores, against a server answering constant bytes, 50 clients sharing one
httpx.AsyncClient managed only 150-280 requests/s (p95 400-1000 ms), this client
5,000-13,000. With httpx, the bench measured httpx. `--httpx` measures with it all the
same, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Network
from pathlib import Path

import httpx

from lab.access.users import Role, UserStore
from lab.labs.plan import plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now

PROFILES = Path(__file__).parents[1] / "profiles"
LABS = 200
CLIENTS = 50
REQUESTS = 20  # per client and endpoint


def seed(settings: Settings) -> str:
    """200 lab records and an admin; the admin's token."""
    profile = load_profile(PROFILES / "tiny.yaml")
    state = StateStore.open(settings)
    for i in range(LABS):
        name, stamp = f"lab-{i:03d}", now()
        subnet = IPv4Network(f"10.250.{i}.0/24")
        plan = plan_lab(profile, name, settings.prefix, settings.labs_dir, subnet)
        state.add_lab(
            LabRecord(
                name=name,
                profile="tiny",
                profile_path=str(PROFILES / "tiny.yaml"),
                status=LabStatus.RUNNING,
                plan=plan,
                created_at=stamp,
                updated_at=stamp,
            )
        )
    users = UserStore(state)
    users.add("bench", Role.ADMIN)
    return users.create_token("bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """One keep-alive HTTP/1.1 connection: a request, then its whole answer (which must
    carry a Content-Length, as every endpoint measured here does)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\n{self.head}"
        if method == "POST":
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        status = int((await self.reader.readline()).split()[1])
        length = None
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise SystemExit(f"{method} {path}: an answer without Content-Length")
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


class HttpxClient(Client):
    """The same requests through one shared httpx.AsyncClient (`--httpx`)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        headers = {"Content-Type": "application/json"} if body else None
        return (await self.client.request(method, path, content=body, headers=headers)).status_code

    async def close(self) -> None:
        return None


Request = Callable[[Client, int], Awaitable[int]]


async def load(clients: list[Client], request: Request) -> tuple[list[float], float]:
    """(latencies in ms, wall seconds) of the clients doing REQUESTS requests each."""
    latencies: list[float] = []

    async def one_client(c: int) -> None:
        for r in range(REQUESTS):
            started = time.perf_counter()
            status = await request(clients[c], c * REQUESTS + r)
            latencies.append((time.perf_counter() - started) * 1000)
            assert status < 300, status

    started = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(len(clients))))
    return latencies, time.perf_counter() - started


def show(title: str, latencies: list[float], wall: float) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{title:<28} p50 {cuts[49]:7.1f} ms   p95 {cuts[94]:7.1f} ms"
        f"   {len(latencies) / wall:7.0f} req/s"
    )


async def run(port: int, token: str, *, use_httpx: bool = False) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CLIENTS)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as shared:
        clients = [
            HttpxClient(shared) if use_httpx else Client(port, token) for _ in range(CLIENTS)
        ]

        async def list_labs(c: Client, _i: int) -> int:
            return await c.request("GET", "/api/v1/labs")

        async def get_lab(c: Client, i: int) -> int:
            return await c.request("GET", f"/api/v1/labs/lab-{i % LABS:03d}")

        async def create(c: Client, i: int) -> int:
            body = json.dumps({"profile": "tiny", "name": f"op-{i:04d}"}).encode()
            return await c.request("POST", "/api/v1/labs", body)

        client = "httpx.AsyncClient" if use_httpx else "a keep-alive connection each"
        print(f"{LABS} labs recorded, {CLIENTS} concurrent clients ({client}), 127.0.0.1")
        try:
            show(f"GET /api/v1/labs ({LABS})", *await load(clients, list_labs))
            show("GET /api/v1/labs/{name}", *await load(clients, get_lab))
            show("POST /api/v1/labs (202)", *await load(clients, create))
        finally:
            for c in clients:
                await c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--httpx", action="store_true", help="measure with httpx.AsyncClient")
    use_httpx = parser.parse_args().httpx
    with tempfile.TemporaryDirectory(prefix="hromada-bench-api-") as home:
        env = {
            **os.environ,
            "LAB_HOME": home,
            "LAB_LIBVIRT_URI": "test:///default",
            "LAB_PREFIX": "hlba-",
            "LAB_PROFILES_DIR": str(PROFILES),
        }
        settings = Settings(home=Path(home), prefix="hlba-", libvirt_uri="test:///default")
        token = seed(settings)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "lab.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("lab serve did not start") from None
                    time.sleep(0.1)
            asyncio.run(run(port, token, use_httpx=use_httpx))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
