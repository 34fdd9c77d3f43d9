"""Templates: a lab from its template against the same lab built from scratch, a class of
eight seats from it against one seat, the disk a clone takes, and the reset of the
README's sample lab, all measured in one run on this machine.

    scripts/labns run .venv/bin/python -m bench.template
    scripts/labns run .venv/bin/python -m bench.template --classes   # the class ratio only

Every time is to verified-ready (the lab answers and passes its quick checks; `up` from
scratch also provisions and runs the whole verification). Targets: a clone at least 20x
faster than from scratch and at most 10 s; eight seats at most 3x one seat; a clone's
disk under 5% of the template's; the sample lab's reset at most 3 s. Beside the class
ratio it prints what the host's CPUs allow at best: eight times the CPU-seconds one seat
took, spread over every CPU (on two CPUs, about 4x one seat under emulation).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from bench._home import bench_settings
from lab.baselines import resets
from lab.classes import classes
from lab.labs import lifecycle
from lab.settings import Settings
from lab.templates import clones, templates

PROFILES = Path(__file__).parents[1] / "profiles"
ROUNDS = 3
RESETS = 5
IDLE_SAMPLE = 15.0  # seconds the host's CPUs are watched with a class's machines idle


def main() -> None:
    if "--classes" in sys.argv[1:]:
        classes_only()
        return
    with bench_settings(parallel=8) as settings:
        started = time.monotonic()
        lifecycle.up(settings, PROFILES / "stack.yaml", "bs")
        scratch = time.monotonic() - started
        resets.baseline(settings, "bs")
        template = templates.create(settings, "bs", "bench-stack")
        lifecycle.down(settings, "bs")  # the template stands alone

        cloned = []
        for n in range(ROUNDS):
            started = time.monotonic()
            clones.clone(settings, "bench-stack", f"bc{n}")
            cloned.append(time.monotonic() - started)
        per_clone = _disk(settings.labs_dir / "bc0")
        for n in range(ROUNDS):
            lifecycle.down(settings, f"bc{n}")

        (one, one_cpu), (eight, _) = _class(settings, "bk1", 1), _class(settings, "bk8", 8)

        lifecycle.up(settings, PROFILES / "rural-hromada.yaml", "br")
        resets.baseline(settings, "br")
        sample = [resets.reset(settings, "br").seconds for _ in range(RESETS)]
        lifecycle.down(settings, "br")

    clone = statistics.median(cloned)
    reset = statistics.median(sample)
    print(f"stack.yaml from scratch (up, provision, verify): {scratch:8.1f} s")
    print(
        f"stack.yaml from its template to verified-ready:  {clone:8.1f} s"
        f" (median of {ROUNDS}: {', '.join(f'{c:.1f}' for c in cloned)}; target <= 10 s)"
    )
    print(
        f"ratio scratch / template:                        {scratch / clone:8.1f}x (target >= 20x)"
    )
    print(f"class from the template, 1 seat:                 {one:8.1f} s")
    print(f"class from the template, 8 seats:                {eight:8.1f} s")
    print(f"ratio 8 seats / 1 seat:                          {eight / one:8.2f}x (target <= 3x)")
    _bound(one, one_cpu)
    print(
        f"disk per clone:                                  {per_clone / 2**20:8.1f} MiB of a"
        f" {template.size / 2**20:.0f} MiB template = {100 * per_clone / template.size:.2f}%"
        " (target < 5%)"
    )
    print(
        f"rural-hromada reset to verified-ready:           {reset:8.2f} s (median of {RESETS}:"
        f" {', '.join(f'{s:.2f}' for s in sample)}; target <= 3 s)"
    )


def classes_only() -> None:
    """A class of eight seats from the template against one seat, and nothing else."""
    with bench_settings(parallel=8) as settings:
        lifecycle.up(settings, PROFILES / "stack.yaml", "bs")
        resets.baseline(settings, "bs")
        templates.create(settings, "bs", "bench-stack")
        lifecycle.down(settings, "bs")
        (one, one_cpu), (eight, _) = _class(settings, "bk1", 1), _class(settings, "bk8", 8)
    print(f"class from the template, 1 seat:                 {one:8.1f} s")
    print(f"class from the template, 8 seats:                {eight:8.1f} s")
    print(f"ratio 8 seats / 1 seat:                          {eight / one:8.2f}x (target <= 3x)")
    _bound(one, one_cpu)


def _bound(one: float, one_cpu: float) -> None:
    """What this host's CPUs allow at best: eight seats' work, each as much as one seat
    alone took, spread over every CPU without loss."""
    cpus = os.cpu_count() or 1
    least = 8 * one_cpu / cpus
    print(
        f"  at best on this host ({cpus} CPUs, one seat {one_cpu:.1f} CPU-s):    {least:8.1f} s"
        f" = {least / one:.2f}x one seat"
    )


def _class(settings: Settings, name: str, seats: int) -> tuple[float, float]:
    """How long a class of `seats` from the template took to verified-ready, and the
    CPU-seconds the host spent meanwhile (every program, the guests' emulators first)."""
    before = _cpu_times()
    started = time.monotonic()
    _, outcomes = classes.create(settings, None, name, seats, template="bench-stack")
    took = time.monotonic() - started
    during = _busy(before, _cpu_times())
    assert all(o.ok for o in outcomes), outcomes
    before = _cpu_times()
    time.sleep(IDLE_SAMPLE)
    idle = _busy(before, _cpu_times())
    print(
        f"class of {seats} seat(s): the host's CPUs {100 * during:.0f}% busy while it was made,"
        f" {100 * idle:.0f}% with its machines idle afterwards ({IDLE_SAMPLE:.0f} s)"
    )
    classes.delete(settings, name)
    return took, during * took * (os.cpu_count() or 1)


def _cpu_times() -> tuple[int, int]:
    """(all, idle) jiffies of every CPU of this host, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def _busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of all CPUs' time spent busy between two `_cpu_times` readings."""
    total, idle = after[0] - before[0], after[1] - before[1]
    return 1 - idle / total if total else 0.0


def _disk(directory: Path) -> int:
    """Bytes the files under `directory` take (a link counts as itself, not its target)."""
    return sum(p.lstat().st_blocks * 512 for p in directory.rglob("*"))


if __name__ == "__main__":
    main()
