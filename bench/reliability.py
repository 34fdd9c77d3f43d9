"""The reliability summary: faults injected, bad inputs tried, requests served, and what
was lost (must be nothing).

    scripts/labns run .venv/bin/python -m bench.reliability [PYTEST ARGS...]

Runs `pytest -m reliability` (integration tests included: LAB_REQUIRE_INTEGRATION=1),
each test appending what it tried to a JSON-lines log (tests/reliability.py), then
prints one row per fault, input set and load run. Exits non-zero if a test failed,
anything was lost, or no test reported at all. Extra arguments go to pytest (e.g. one
test file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
COUNTED = {"fault": "trials", "input": "inputs", "load": "requests"}


def run_tests(log: Path, args: list[str]) -> int:
    env = {**os.environ, "LAB_RELIABILITY_LOG": str(log), "LAB_REQUIRE_INTEGRATION": "1"}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "pytest", "-m", "reliability", "-q", *args]
    return subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    trials: int
    lost: tuple[str, ...]


def read(log: Path) -> list[Row]:
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [Row(r["kind"], r["name"], int(r["trials"]), tuple(r["lost"])) for r in rows]


def table(rows: list[Row]) -> list[str]:
    lines = [f"{'kind':<6} {'what':<52} {'tried':>15}  lost", "-" * 90]
    for row in sorted(rows, key=lambda r: (r.kind, r.name)):
        tried = f"{row.trials} {COUNTED.get(row.kind, 'trials')}"
        lines.append(f"{row.kind:<6} {row.name:<52} {tried:>15}  {len(row.lost) or 'nothing'}")
        lines += [f"{'':<8}lost: {item}" for item in row.lost]
    return lines


def main() -> int:
    if not os.environ.get("LAB_NETNS"):
        print("run inside a lab namespace: scripts/labns run .venv/bin/python -m bench.reliability")
        return 2
    with tempfile.TemporaryDirectory(prefix="hlab-reliability-") as tmp:
        log = Path(tmp) / "reliability.jsonl"
        started = time.monotonic()
        code = run_tests(log, sys.argv[1:])
        rows = read(log)
    took = time.monotonic() - started
    print()
    print(f"reliability summary ({took / 60:.1f} min, pytest exit code {code})")
    for line in table(rows):
        print(line)
    totals = {kind: sum(r.trials for r in rows if r.kind == kind) for kind in COUNTED}
    lost = sum(len(r.lost) for r in rows)
    print(
        f"total: {totals['fault']} fault trials, {totals['input']} inputs, "
        f"{totals['load']} requests; lost: {lost or 'nothing'}"
    )
    if not rows:
        print("no reliability test reported anything: were they collected? (pytest -m reliability)")
        return 1
    return 1 if code != 0 or lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
