"""Build the base image for real (mmdebstrap, root) and check the recipe cache.

Uses the LAB_HOME of the test run, so the image is built once and the boot tests that
follow reuse it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lab.images import Boot, ImageStore
from lab.settings import Settings

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "images" / "debian-12.yaml"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="mmdebstrap builds need root"),
]


@pytest.fixture(scope="module")
def store() -> ImageStore:
    home = os.environ.get("LAB_HOME") or tempfile.mkdtemp(prefix="lab-image-")
    return ImageStore(Settings(home=Path(home)))


def test_build_stores_a_kernel_boot_image(store: ImageStore) -> None:
    steps: list[str] = []
    image = store.build(RECIPE, steps.append)
    print("\n".join(steps))
    assert image.name == "debian-12"
    assert image.boot is Boot.KERNEL
    assert image.cmdline is not None and "root=/dev/vda" in image.cmdline
    assert any(p.startswith("linux-image-cloud-amd64=") for p in image.packages)
    disk = store.disk_path(image)
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", disk], check=True, capture_output=True
        ).stdout
    )
    assert info["format"] == "qcow2" and info["virtual-size"] == 3 * 1024**3
    assert store.kernel_path(image).stat().st_size > 1_000_000
    assert store.initrd_path(image).stat().st_size > 1_000_000
    assert store.get("debian-12") == image


def test_unchanged_recipe_is_a_cache_hit(store: ImageStore) -> None:
    first = store.build(RECIPE, lambda step: None)
    started = time.monotonic()
    again = store.build(RECIPE, lambda step: None)
    elapsed = time.monotonic() - started
    assert again.digest == first.digest
    assert elapsed < 1.0, f"cache hit took {elapsed:.2f} s"
