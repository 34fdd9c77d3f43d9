"""How fast `lab up` is: overlay creation, one machine vs three machines side by side.

    scripts/labns run .venv/bin/python -m bench.up

Targets: an overlay in under 50 ms; three machines up in at most 2x the
time of one (parallel bring-up on a 2-core machine).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench._home import bench_settings
from lab.commands import run
from lab.images import ImageStore
from lab.labs import lifecycle
from lab.settings import Settings

PROFILES = Path(__file__).parents[1] / "profiles"
TRIO = """
community: {name: trio, title: "Три машини (бенчмарк)", oblast: "Київська", kind: settlement}
networks: [{name: net, cidr: 10.79.0.0/24}]
machines:
  - {name: m1, image: debian-12, memory: 512MiB, nics: [{network: net}]}
  - {name: m2, image: debian-12, memory: 512MiB, nics: [{network: net}]}
  - {name: m3, image: debian-12, memory: 512MiB, nics: [{network: net}]}
"""


def overlay_times(base: Path, count: int = 20) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            target = Path(tmp) / f"o{i}.qcow2"
            t0 = time.perf_counter()
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, target])
            times.append(time.perf_counter() - t0)
    return times


def timed_up(settings: Settings, profile: Path, name: str) -> float:
    t0 = time.perf_counter()
    lifecycle.up(settings, profile, name)
    took = time.perf_counter() - t0
    lifecycle.down(settings, name)
    return took


def main() -> None:
    with bench_settings() as settings, tempfile.TemporaryDirectory() as tmp:
        store = ImageStore(settings)
        base = store.disk_path(store.get("debian-12"))
        ov = overlay_times(base)
        trio = Path(tmp) / "trio.yaml"
        trio.write_text(TRIO)
        one = timed_up(settings, PROFILES / "tiny.yaml", "bench1")
        three = timed_up(settings, trio, "bench3")
    print(
        f"overlay create per disk: median {statistics.median(ov) * 1000:.1f} ms,"
        f" max {max(ov) * 1000:.1f} ms over {len(ov)} (target < 50 ms)"
    )
    print(f"up, 1 machine:   {one:6.1f} s")
    print(f"up, 3 machines:  {three:6.1f} s")
    print(f"ratio 3:1        {three / one:6.2f}x (target <= 2.0x)")


if __name__ == "__main__":
    main()
