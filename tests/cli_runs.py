"""The `lab` command run as a user runs it: a process of its own over a given LAB_HOME, its
output through pipes (no terminal), so what it prints is what a script would read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lab.settings import Settings

ROOT = Path(__file__).parents[1]
# What would make rich draw for a terminal it does not have, or take its colour away: a
# test sets them when it means to.
TERMINAL_VARIABLES = (
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "CLICOLOR_FORCE",
    "NO_COLOR",
)


def lab_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_USER", *TERMINAL_VARIABLES)}
    return env | {
        "LAB_HOME": str(settings.home),
        "LAB_LIBVIRT_URI": settings.libvirt_uri,
        "LAB_PREFIX": settings.prefix,
        "LAB_PROFILES_DIR": str(settings.profiles_dir),
        **extra,
    }


def run_lab(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`lab ARGS...` through `python -m lab.cli` (the console script's `main`)."""
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        env=lab_env(settings, **extra),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
