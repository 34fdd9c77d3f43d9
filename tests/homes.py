"""The LAB_HOME of tests that run real guests: made in one place for every tier.

A test home lives under LAB_TEST_ROOT (default /var/lib/hromada-lab-test), never in /tmp:
QEMU runs as libvirt-qemu, so every directory above a lab's disks must be traversable.
Its image store is the host's (LAB_HOME, default /var/lib/hromada-lab, which `make image`
and `make test-images` filled), linked in, so no test builds an image.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

IMAGE_HOME = Path(os.environ.get("LAB_HOME", "/var/lib/hromada-lab"))
TEST_ROOT = Path(os.environ.get("LAB_TEST_ROOT", "/var/lib/hromada-lab-test"))


def link_images(home: Path) -> None:
    """Give `home` the host's image store (or fail the test: no image built yet)."""
    if not (IMAGE_HOME / "images" / "names" / "debian-12.json").exists():
        pytest.fail(f"no debian-12 image in {IMAGE_HOME}: run `make image` first")
    (home / "images").symlink_to(IMAGE_HOME / "images")


@contextmanager
def fresh_home(kind: str) -> Iterator[Path]:
    """A new, empty LAB_HOME `TEST_ROOT/KIND-PID` with the host's images; gone afterwards."""
    TEST_ROOT.mkdir(mode=0o755, exist_ok=True)
    home = TEST_ROOT / f"{kind}-{os.getpid()}"
    home.mkdir(mode=0o755)
    try:
        link_images(home)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)
