"""The test run's libvirt starts as on a machine where it never ran: its state, runtime,
cache and log directories and /etc/libvirt are private to the run (scripts/labns run), so
only what playbooks/host.yml prepares is there, and nothing a person once did by hand on
this machine can make a test pass that would fail on a new one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

STATE = Path("/run/hromada-labns")
PRIVATE = {
    "/var/lib/libvirt": "lib",
    "/run/libvirt": "run",
    "/var/cache/libvirt": "cache",
    "/etc/libvirt": "etc",
}


def mounts(pid: str = "self") -> dict[str, str]:
    """Mount point -> the directory of its file system mounted there (bind mounts)."""
    rows = (line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines())
    return {row[4]: row[3] for row in rows}


def test_libvirt_directories_are_the_runs_own() -> None:
    ns = os.environ["LAB_NETNS"]
    here = mounts()
    for path, name in PRIVATE.items():
        assert here.get(path) == str(STATE / ns / name), f"{path} is the host's own"


def test_libvirtd_runs_in_the_same_private_state() -> None:
    ns = os.environ["LAB_NETNS"]
    pid = (STATE / ns / "libvirtd.pid").read_text().strip()
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")


def test_libvirt_config_has_nothing_defined_by_hand_or_by_earlier_runs() -> None:
    qemu = Path("/etc/libvirt/qemu")
    # This run's own domains: its prefix, the full-disk test's, and the other stream's when
    # `make test` runs its heaviest module beside the rest in the same namespace.
    ours = (os.environ.get("LAB_TEST_PREFIX", "hlt-"), "hld-", *_other_streams())
    leftovers = [p.name for p in qemu.glob("*.xml") if not p.name.startswith(ours)]
    assert not leftovers, leftovers


def _other_streams() -> tuple[str, ...]:
    return tuple(p for p in os.environ.get("LAB_TEST_OTHER_PREFIXES", "").split(",") if p)
