"""A throw-away LAB_HOME for benchmarks, sharing the host's image store (read-only)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.labs import lifecycle
from lab.settings import Settings

IMAGE_HOME = Path(os.environ.get("LAB_HOME", "/var/lib/hromada-lab"))
ROOT = Path("/var/lib/hromada-lab-bench")


@contextmanager
def bench_settings(**overrides: Any) -> Iterator[Settings]:
    if not os.environ.get("LAB_NETNS"):
        raise SystemExit("run benchmarks inside the lab namespace: scripts/labns run ...")
    ROOT.mkdir(mode=0o755, exist_ok=True)
    home = ROOT / f"run-{os.getpid()}"
    home.mkdir(mode=0o755)
    (home / "images").symlink_to(IMAGE_HOME / "images")
    settings = Settings(home=home, prefix="hlb-", **overrides)
    try:
        yield settings
    finally:
        lifecycle.reconcile(settings)
        for lab in lifecycle.list_labs(settings):
            lifecycle.down(settings, lab.name)
        shutil.rmtree(home, ignore_errors=True)
