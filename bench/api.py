"""API latency under load, and how fast operations are accepted.

    .venv/bin/python -m bench.api

Starts `lab serve` on 127.0.0.1 (a free port) over a throw-away LAB_HOME holding 200
recorded labs and libvirt's test driver (no VMs, no libvirtd, no namespace needed),
then: 50 concurrent clients GET /api/v1/labs and /api/v1/labs/{name}, printing
p50/p95 latency; and 50 concurrent clients creating labs (202 + a persisted
operation each; the operations then fail, there is no image), printing the rate.
"""

from __future__ import annotations

import asyncio
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

from lab.plan import plan_lab
from lab.profile import load_profile
from lab.settings import Settings
from lab.state import LabRecord, LabStatus, StateStore, now
from lab.users import Role, UserStore

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


async def load(
    client: httpx.AsyncClient, request: Callable[[httpx.AsyncClient, int], Awaitable[int]]
) -> tuple[list[float], float]:
    """(latencies in ms, wall seconds) of CLIENTS clients doing REQUESTS requests each."""
    latencies: list[float] = []

    async def one_client(c: int) -> None:
        for r in range(REQUESTS):
            started = time.perf_counter()
            status = await request(client, c * REQUESTS + r)
            latencies.append((time.perf_counter() - started) * 1000)
            assert status < 300, status

    started = time.perf_counter()
    await asyncio.gather(*(one_client(c) for c in range(CLIENTS)))
    return latencies, time.perf_counter() - started


def show(title: str, latencies: list[float], wall: float) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{title:<28} p50 {cuts[49]:7.1f} ms   p95 {cuts[94]:7.1f} ms"
        f"   {len(latencies) / wall:7.0f} req/s"
    )


async def run(base: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def list_labs(c: httpx.AsyncClient, _i: int) -> int:
            return (await c.get("/api/v1/labs")).status_code

        async def get_lab(c: httpx.AsyncClient, i: int) -> int:
            return (await c.get(f"/api/v1/labs/lab-{i % LABS:03d}")).status_code

        async def create(c: httpx.AsyncClient, i: int) -> int:
            body = {"profile": "tiny", "name": f"op-{i:04d}"}
            return (await c.post("/api/v1/labs", json=body)).status_code

        print(f"{LABS} labs recorded, {CLIENTS} concurrent clients, 127.0.0.1")
        show(f"GET /api/v1/labs ({LABS})", *await load(client, list_labs))
        show("GET /api/v1/labs/{name}", *await load(client, get_lab))
        show("POST /api/v1/labs (202)", *await load(client, create))


def main() -> None:
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
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("lab serve did not start") from None
                    time.sleep(0.1)
            asyncio.run(run(base, token))
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
