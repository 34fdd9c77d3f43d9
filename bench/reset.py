"""How fast a lab comes back: cold reset vs memory-baseline reset, one seat vs four.

    scripts/labns run .venv/bin/python -m bench.reset

Every reset here is verified (SSH + the profile's quick checks) before its time is taken.
Targets: baseline reset at least 10x faster than cold; one seat ready in at
most 3 s; a class of four seats in at most 2.5x the time of one seat.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench._home import bench_settings
from lab.baselines import resets
from lab.classes import classes
from lab.labs import lifecycle

PROFILES = Path(__file__).parents[1] / "profiles"
ROUNDS = 3


def main() -> None:
    with bench_settings(parallel=4) as settings:
        lifecycle.up(settings, PROFILES / "tiny.yaml", "rb")
        resets.baseline(settings, "rb")
        cold = resets.reset(settings, "rb", cold=True).seconds
        memory = [resets.reset(settings, "rb").seconds for _ in range(ROUNDS)]
        lifecycle.down(settings, "rb")

        _, outcomes = classes.create(settings, PROFILES / "tiny.yaml", "rbc", 4)
        assert all(o.ok for o in outcomes), outcomes
        classes.baseline(settings, "rbc")
        one = [resets.reset(settings, "rbc-01").seconds for _ in range(ROUNDS)]
        four = []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            seats = classes.reset(settings, "rbc")
            four.append(time.perf_counter() - t0)
            assert all(o.ok for o in seats), seats
        classes.delete(settings, "rbc")

    mem = statistics.median(memory)
    one_seat = statistics.median(one)
    four_seats = statistics.median(four)
    print(f"cold reset to verified-ready:      {cold:6.2f} s")
    print(f"baseline reset to verified-ready:  {mem:6.2f} s (median of {ROUNDS}; target <= 3 s)")
    print(f"ratio cold / baseline:             {cold / mem:6.1f}x (target >= 10x)")
    print(f"class reset, 1 seat:               {one_seat:6.2f} s")
    print(f"class reset, 4 seats:              {four_seats:6.2f} s")
    print(f"ratio 4 seats / 1 seat:            {four_seats / one_seat:6.2f}x (target <= 2.5x)")


if __name__ == "__main__":
    main()
