"""What the anti-spoofing NIC filter costs a reset: the same one-machine lab (two NICs),
memory reset without a filter, with ours (hromada-lab-nic, the default) and with libvirt's
clean-traffic, side by side in one run. Either filter is a binding on a fixed tap made at
the first start (lab.driver.filter_bindings), so a reset should cost the same as without.

    scripts/labns run .venv/bin/python -m bench.nic_filter
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench._home import bench_settings
from lab.baselines import resets
from lab.labs import lifecycle
from lab.settings import NicFilter

PROFILE = Path(__file__).parents[1] / "profiles" / "tiny.yaml"
ROUNDS = 3


def main() -> None:
    times: dict[NicFilter, list[float]] = {}
    with bench_settings() as settings:
        for nic_filter in (NicFilter.NONE, NicFilter.LAB, NicFilter.CLEAN_TRAFFIC):
            s = settings.model_copy(update={"nic_filter": nic_filter})
            name = f"nf-{nic_filter.value}"
            lifecycle.up(s, PROFILE, name)
            resets.baseline(s, name)
            times[nic_filter] = [resets.reset(s, name).seconds for _ in range(ROUNDS)]
            lifecycle.down(s, name)
    bare = statistics.median(times[NicFilter.NONE])
    for nic_filter, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"memory reset, filter {nic_filter.value:<16} {median:6.2f} s "
            f"(median of {ROUNDS}; {median - bare:+.2f} s, {median / bare:.2f}x of none)"
        )


if __name__ == "__main__":
    main()
