"""How long the software stack takes: provisioning per role, a second (idempotent) run,
and verification, for profiles/stack.yaml on this machine (TCG).

    lab prepare profiles/stack.yaml          # once, outside the namespace (needs the mirror)
    scripts/labns run .venv/bin/python -m bench.provision

The lab is brought up without provisioning, then provisioned (the first run, timed per
role from ansible-runner's task events), provisioned again (must change nothing), tested.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench._home import bench_settings
from lab.labs import lifecycle
from lab.software import stack

PROFILE = Path(__file__).parents[1] / "profiles" / "stack.yaml"


def main() -> None:
    with bench_settings() as settings:
        t0 = time.perf_counter()
        lifecycle.up(settings, PROFILE, "pv", provision=False)
        boot = time.perf_counter() - t0
        first = stack.provision(settings, "pv")
        second = stack.provision(settings, "pv")
        verification = stack.test(settings, "pv")
        lifecycle.down(settings, "pv")

    print(f"profile {PROFILE.name}: machines booted and answering in {boot:6.1f} s")
    print("first provisioning, per role (wall time of its tasks):")
    for role, seconds in first.role_seconds.items():
        print(f"  {role:<14} {seconds:7.1f} s")
    print(
        f"first provisioning, whole profile:  {first.seconds:7.1f} s "
        f"({first.total_changed} tasks changed)"
    )
    print(
        f"second provisioning (idempotent):   {second.seconds:7.1f} s "
        f"({second.total_changed} tasks changed; must be 0)"
    )
    print(
        f"verification (lab test):            {verification.seconds:7.1f} s "
        f"({len(verification.results)} tests, passed={verification.passed})"
    )


if __name__ == "__main__":
    main()
