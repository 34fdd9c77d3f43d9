"""A full disk under LAB_HOME: during overlay creation (`up`) and baseline capture.

The test's LAB_HOME is a small loop-mounted ext4 of its own (mode 0755: QEMU, as
libvirt-qemu, must reach the disks), filled with one ballast file until only the room
wanted is left. `up` is refused before anything is made when the lab does not fit (its
disk need: lab.placement); when the disk fills after it was let in, `up` fails while
making the machine's overlay, and a second baseline while saving the memory state (as
large as the guest's RAM): each with an error naming the space problem and a hint,
nothing half-made left, the old baseline in force and usable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.baselines import generations, resets
from lab.baselines.records import ResetMode
from lab.errors import HostError
from lab.labs import lifecycle
from lab.placement.place import CapacityError
from lab.settings import Settings
from lab.store.state import StateStore
from tests.homes import TEST_ROOT, link_images
from tests.integration.invariants import digests, lab_outcome
from tests.reliability import record

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

PROFILES = Path(__file__).parents[2] / "profiles"
SMALL_PREFIX = "hld-"
# What admission asks of a tiny lab (its 512 MiB memory state and 512 MiB for its overlay)
# and slack: a booted tiny lab takes ~100 MB, its memory state ~270 MB.
SIZE = 1400 * 2**20


def mount_namespaces() -> list[int]:
    """Processes whose mount namespaces must see the file system: libvirtd's (QEMU forks
    from it) and virtlogd's (console logs), where those differ from ours. `scripts/labns`
    runs the daemons and the tests in one mount namespace of the run's own, so usually
    none; a daemon started another way may have one of its own."""
    state = Path("/run/hromada-labns") / os.environ["LAB_NETNS"]
    pids = [int((state / f"{d}.pid").read_text()) for d in ("libvirtd", "virtlogd")]
    ours = os.readlink("/proc/self/ns/mnt")
    seen = {ours}
    found = []
    for pid in pids:
        ns = os.readlink(f"/proc/{pid}/ns/mnt")
        if ns not in seen:
            seen.add(ns)
            found.append(pid)
    return found


@contextmanager
def loop_fs(root: Path) -> Iterator[None]:
    """A small ext4 on a loop device, mounted at `root` here and in the daemons' mount
    namespaces: one block device, so every mount shows the same files."""
    image = root.with_suffix(".img")
    with image.open("wb") as f:
        f.truncate(SIZE)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", str(image)], check=True)
    device = subprocess.run(
        ["losetup", "--find", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    root.mkdir(mode=0o755)
    others = mount_namespaces()
    try:
        subprocess.run(["mount", device, str(root)], check=True)
        for pid in others:
            in_ns = ["nsenter", "-t", str(pid), "-m"]
            subprocess.run([*in_ns, "mount", device, str(root)], check=True)
        root.chmod(0o755)  # QEMU (libvirt-qemu) must reach the disks below
        yield
    finally:
        for pid in others:
            in_ns = ["nsenter", "-t", str(pid), "-m"]
            subprocess.run([*in_ns, "umount", "-l", str(root)], check=False)
        subprocess.run(["umount", "-l", str(root)], check=False)
        subprocess.run(["losetup", "-d", device], check=False)
        image.unlink()
        root.rmdir()


@pytest.fixture(scope="module")
def small(settings: Settings) -> Iterator[Settings]:
    """Settings whose LAB_HOME is a small file system, with a libvirt prefix of its own: a
    `reconcile` over this home must not take the run's other labs (the session's shared
    class lives on) for orphans, nor the run's own reconcile this home's labs."""
    root = TEST_ROOT / f"small-{os.getpid()}"
    with loop_fs(root):
        link_images(root)
        small = settings.model_copy(update={"home": root, "prefix": SMALL_PREFIX})
        StateStore.open(small)  # the state database exists before the disk fills up
        yield small
        lifecycle.reconcile(small)
        for lab in lifecycle.list_labs(small):
            lifecycle.down(small, lab.name)


def fill(settings: Settings, leave: int) -> Path:
    """Take all free space under LAB_HOME but `leave` bytes."""
    ballast = settings.home / "ballast"
    free = shutil.disk_usage(settings.home).free
    fd = os.open(ballast, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.posix_fallocate(fd, 0, max(free - leave, 1))
    finally:
        os.close(fd)
    return ballast


def test_a_lab_that_does_not_fit_on_the_disk_is_refused_before_anything_is_made(
    small: Settings,
) -> None:
    ballast = fill(small, leave=256 * 2**20)  # less than a memory state and an overlay
    with pytest.raises(CapacityError) as info:
        lifecycle.up(small, PROFILES / "tiny.yaml", "fd")
    assert "lab 'fd' does not fit" in info.value.message and "of disk (free: local" in (
        info.value.message
    )
    assert lab_outcome(small, "fd") == ("gone", [])
    ballast.unlink()


def test_full_disk_during_overlay_creation(small: Settings) -> None:
    """The disk fills up after the lab was let in (another lab, a log, a download): the
    ballast is laid down once the lab's networks are up, just before its overlays."""
    ballasts: list[Path] = []

    def fill_once_admitted(subject: str, message: str) -> None:
        if message.startswith("network ") and not ballasts:
            # Room for the known-hosts file, not for a qcow2 overlay (~200 KiB).
            ballasts.append(fill(small, leave=96 * 1024))

    lost: list[str] = []
    with pytest.raises(HostError) as info:
        lifecycle.up(small, PROFILES / "tiny.yaml", "fd", fill_once_admitted)
    [ballast] = ballasts
    error = info.value
    print(f"error: {error.message}\nhint: {error.hint}")
    if "no space left" not in error.message or "df -h" not in error.hint:
        lost.append(f"unclear error: {error.message} / {error.hint}")
    if "qemu-img create" not in error.message:
        lost.append(f"failed elsewhere than the overlay: {error.message}")
    outcome, problems = lab_outcome(small, "fd")
    lost += problems + ([] if outcome == "gone" else ["a half-made lab was kept"])
    ballast.unlink()
    # Space again: the same name comes up whole.
    lifecycle.up(small, PROFILES / "tiny.yaml", "fd")
    outcome, problems = lab_outcome(small, "fd")
    lost += problems + ([] if outcome == "present" else ["the next up left no lab"])
    record("fault", "full disk during up (overlay)", 1, lost)
    assert lost == []


def test_full_disk_during_baseline_capture(small: Settings) -> None:
    resets.baseline(small, "fd")
    plan = lifecycle.get_lab(small, "fd").plan
    before = generations.current(plan)
    assert before is not None
    sums = digests(before.directory(plan))
    # Room for anything but a memory state (~270 MB for this guest).
    ballast = fill(small, leave=64 * 2**20)
    lost: list[str] = []
    with pytest.raises(HostError) as info:
        resets.baseline(small, "fd")
    error = info.value
    print(f"error: {error.message}\nhint: {error.hint}")
    if "no space left" not in error.message or "df -h" not in error.hint:
        lost.append(f"unclear error: {error.message} / {error.hint}")
    if "baseline in force is unchanged" not in error.message:
        lost.append(f"does not say what became of the baseline: {error.message}")
    outcome, problems = lab_outcome(small, "fd")
    lost += problems + ([] if outcome == "present" else ["the lab is gone"])
    after = generations.current(plan)
    if after != before or digests(before.directory(plan)) != sums:
        lost.append("the baseline in force changed")
    # Still nearly full: the old baseline serves a memory reset all the same.
    done = resets.reset(small, "fd")
    if not (done.ok and done.mode is ResetMode.MEMORY):
        lost.append(f"reset after the failed capture: {done.mode} {done.note}")
    ballast.unlink()
    record("fault", "full disk during baseline (memory state)", 1, lost)
    assert lost == []
