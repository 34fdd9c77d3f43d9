"""The software catalogue of 200 communities: computed and served.

    .venv/bin/python -m bench.catalogue

Writes 200 generated community profiles (2-4 machines each, 8-14 products each from a
pool of 40 with their versions, vendors' permissions and data formats, plus 40 inspected
packages on one machine) and a recommended stack into a throw-away profiles directory,
then prints, side by side with their targets:
- the CLI: `lab catalogue --json` and `lab catalogue report --json`, wall time of the
  whole command (Python start-up included), the best and worst of three runs each
  (target: under 2 s);
- the API: `lab serve` on 127.0.0.1 over libvirt's test driver (no VMs, no namespace),
  4 engineers' clients at once (each its own keep-alive connection), 25 requests each
  to the matrix, the unification report, one product and the outstanding permissions:
  p50/p95 (target: p95 under 50 ms). The first request of each is not counted: it reads
  the 200 files, every later one finds them read already unless a file changed.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

from bench.api import Client, free_port
from lab.access.users import Role, UserStore
from lab.settings import Settings
from lab.store.state import StateStore

COMMUNITIES = 200
CLIENTS = 4
REQUESTS = 25
CLI_TARGET_S = 2.0
API_TARGET_MS = 50.0

KINDS = ("document-flow", "accounting", "portal", "registry", "office", "database", "mail")
FORMATS = ("docx", "odt", "pdf", "xlsx", "ods", "xml", "p7s", "csv", "json", "html")
PERMISSIONS = ("not-needed", "none", "requested", "granted")
PRODUCTS = [
    (f"Продукт-{i:02d}", KINDS[i % len(KINDS)], f"Вендор {i % 13}", f"{1 + i % 5}.{i % 7}")
    for i in range(40)
]


def software(rng: random.Random, count: int) -> list[dict[str, object]]:
    chosen = rng.sample(PRODUCTS, count)
    entries: list[dict[str, object]] = []
    for product, kind, vendor, version in chosen:
        state = rng.choice(PERMISSIONS)
        entry: dict[str, object] = {
            "product": product,
            "vendor": vendor,
            "version": version if rng.random() < 0.6 else f"{version}.{rng.randint(1, 9)}",
            "kind": kind,
            "licence": "proprietary",
            "permission": {"state": state}
            | ({"reference": f"лист № {rng.randint(1, 300)}/2026"} if state == "granted" else {}),
            "formats": {
                "reads": rng.sample(FORMATS, 3),
                "writes": rng.sample(FORMATS, 2),
            },
        }
        if rng.random() < 0.2:
            entry["support_ends"] = "2025-10-14"
        entries.append(entry)
    return entries


def packages(rng: random.Random) -> list[dict[str, object]]:
    return [
        {
            "product": f"pkg-{i:03d}",
            "version": f"1.{rng.randint(0, 3)}-1",
            "kind": "package",
            "package": f"pkg-{i:03d}",
        }
        for i in range(40)
    ]


def profile(index: int, rng: random.Random, *, recommended: bool = False) -> dict[str, object]:
    name = "recommended" if recommended else f"hromada-{index:03d}"
    machines = []
    for m in range(2 if recommended else rng.randint(2, 4)):
        listed = software(rng, rng.randint(3, 5))
        if m == 0 and not recommended:
            listed += packages(rng)
        machines.append(
            {
                "name": f"m{m}",
                "image": "debian-12",
                "memory": "512MiB",
                "nics": [{"network": "office"}],
                "software": listed,
            }
        )
    data: dict[str, object] = {
        "community": {
            "name": name,
            "title": f"Громада № {index}",
            "oblast": "Київська",
            "kind": "rural",
        },
        "networks": [{"name": "office", "cidr": "10.40.0.0/24"}],
        "machines": machines,
    }
    if recommended:
        data["recommended"] = True
    return data


def write_profiles(directory: Path) -> None:
    rng = random.Random(20261204)
    for i in range(COMMUNITIES):
        text = yaml.safe_dump(profile(i, rng), allow_unicode=True, sort_keys=False)
        (directory / f"hromada-{i:03d}.yaml").write_text(text, encoding="utf-8")
    text = yaml.safe_dump(profile(0, rng, recommended=True), allow_unicode=True, sort_keys=False)
    (directory / "recommended.yaml").write_text(text, encoding="utf-8")


def cli(env: dict[str, str], *args: str) -> tuple[float, float]:
    took = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "lab.cli", "catalogue", *args, "--json"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        took.append(time.perf_counter() - started)
    return min(took), max(took)


async def api(port: int, token: str, path: str) -> list[float]:
    clients = [Client(port, token) for _ in range(CLIENTS)]
    latencies: list[float] = []
    await clients[0].request("GET", path)  # the first one reads the files

    async def one(client: Client) -> None:
        for _ in range(REQUESTS):
            started = time.perf_counter()
            status = await client.request("GET", path)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"GET {path}: {status}")

    try:
        await asyncio.gather(*(one(c) for c in clients))
    finally:
        for c in clients:
            await c.close()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit("lab serve did not start") from None
            time.sleep(0.1)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hromada-bench-catalogue-") as tmp:
        home, profiles = Path(tmp) / "home", Path(tmp) / "profiles"
        home.mkdir()
        profiles.mkdir()
        write_profiles(profiles)
        env = {
            **os.environ,
            "LAB_HOME": str(home),
            "LAB_LIBVIRT_URI": "test:///default",
            "LAB_PREFIX": "hlbc-",
            "LAB_PROFILES_DIR": str(profiles),
            "NO_COLOR": "1",
        }
        settings = Settings(
            home=home, prefix="hlbc-", libvirt_uri="test:///default", profiles_dir=profiles
        )
        users = UserStore(StateStore.open(settings))
        users.add("bench", Role.ENGINEER)
        token = users.create_token("bench")
        print(f"{COMMUNITIES} community profiles and a recommended stack, {tmp}")

        print(f"CLI (target: under {CLI_TARGET_S:.0f} s, the whole command)")
        for args in (("matrix",), ("report",)):
            best, worst = cli(env, *[a for a in args if a != "matrix"])
            print(
                f"  lab catalogue {' '.join(args):<8} --json  best {best:5.2f} s  worst"
                f" {worst:5.2f} s   worst/target {worst / CLI_TARGET_S:4.2f}"
            )

        port = free_port()
        server = serve(env, port)
        product = quote(PRODUCTS[0][0])
        print(f"API, {CLIENTS} clients at once (target: p95 under {API_TARGET_MS:.0f} ms)")
        try:
            for path in (
                "/api/v1/catalogue",
                "/api/v1/catalogue/unification",
                f"/api/v1/catalogue/products/{product}",
                "/api/v1/catalogue/permissions",
            ):
                latencies = asyncio.run(api(port, token, path))
                p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
                print(
                    f"  GET {path:<44} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
                    f"   p95/target {p95 / API_TARGET_MS:4.2f}"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
