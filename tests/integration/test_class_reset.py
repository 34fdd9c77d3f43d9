"""Classes, baselines and verified resets with real TCG guests.

The session's shared class of two tiny seats (`tiny_class`) serves every test here, in
file order: a cold reset before any baseline, then baselines, a trainee's damage undone,
a killed reset. This module runs before the others that share the class (they need it
baselined, it needs it not yet).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lab.baselines import generations, resets
from lab.baselines.records import ResetMode
from lab.classes import classes
from lab.errors import ConflictError
from lab.labs import guest, lifecycle
from lab.settings import Settings
from lab.store.state import StateStore

pytestmark = pytest.mark.integration

PROFILES = Path(__file__).parents[2] / "profiles"
LAB = [sys.executable, "-m", "lab.cli"]
SEATS = ("cr-01", "cr-02")


@pytest.fixture(scope="module")
def klass(tiny_class: tuple[str, ...]) -> str:
    assert tiny_class == SEATS
    return "cr"


def sh(settings: Settings, lab: str, command: str) -> guest.CommandResult:
    return guest.run(lifecycle.guest_address(settings, lab, "m1"), command, timeout=60)


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def test_reset_without_baseline_falls_back_to_cold(settings: Settings, klass: str) -> None:
    plan = lifecycle.get_lab(settings, "cr-02").plan
    assert generations.current(plan) is None, "run before the modules that baseline the class"
    sh(settings, "cr-02", "touch /home/labadmin/before-cold")
    done = resets.reset(settings, "cr-02")
    assert done.mode is ResetMode.COLD and done.ok
    assert "no baseline" in done.note
    assert sh(settings, "cr-02", "test -e /home/labadmin/before-cold").exit_code == 1


def test_class_baseline_captures_every_seat(settings: Settings, klass: str) -> None:
    # Written just before the capture: still only in the guest's page cache.
    assert sh(settings, "cr-02", "echo kept > /home/labadmin/marker").exit_code == 0
    outcomes = classes.baseline(settings, klass)
    assert all(o.ok for o in outcomes), outcomes
    for seat in SEATS:
        current = generations.current(lifecycle.get_lab(settings, seat).plan)
        assert current is not None and current.memory == ("m1",)


def test_cold_reset_boots_from_the_baseline_disk_layer(settings: Settings, klass: str) -> None:
    sh(settings, "cr-02", "touch /home/labadmin/after-baseline")
    done = resets.reset(settings, "cr-02", cold=True)
    assert done.ok and done.mode is ResetMode.COLD
    assert sh(settings, "cr-02", "cat /home/labadmin/marker").stdout.strip() == "kept"
    assert sh(settings, "cr-02", "test -e /home/labadmin/after-baseline").exit_code == 1


def test_reset_undoes_what_a_trainee_did(settings: Settings, klass: str) -> None:
    nic = sh(settings, "cr-01", "ip -o -4 addr show | awk '/10.77.0.10/ {print $2}'").stdout
    nic = nic.strip()
    assert nic
    damage = (
        f"sudo useradd intruder && echo junk > /home/labadmin/junk"
        f" && sudo ip addr add 10.77.0.99/24 dev {nic}"
        f" && sudo ip link set {nic} down"
        " && sudo rm /usr/bin/python3"
    )
    assert sh(settings, "cr-01", damage).exit_code == 0
    assert sh(settings, "cr-01", "test -e /usr/bin/python3").exit_code == 1
    time.sleep(5)  # so a guest clock left at the baseline's instant would show

    outcomes = classes.reset(settings, klass)
    assert [(o.seat, o.ok, o.reset.mode if o.reset else None) for o in outcomes] == [
        (s, True, ResetMode.MEMORY) for s in SEATS
    ], outcomes

    check = (
        "test -x /usr/bin/python3 && ! id intruder 2>/dev/null && ! test -e /home/labadmin/junk"
        f" && ! ip -4 addr show dev {nic} | grep -q 10.77.0.99"
        f" && ip link show {nic} | grep -q 'state UP' && echo clean"
    )
    assert sh(settings, "cr-01", check).stdout.strip() == "clean"
    guest_now = float(sh(settings, "cr-01", "date +%s.%N").stdout)
    assert abs(guest_now - time.time()) < 5, "the guest clock was not corrected"


def test_reset_durations_are_recorded(settings: Settings, klass: str) -> None:
    history = StateStore.open(settings).resets("cr-01")
    assert history[0].ok and history[0].mode is ResetMode.MEMORY
    assert 0 < history[0].seconds < 60


def test_second_reset_of_a_lab_is_refused_while_one_runs(settings: Settings, klass: str) -> None:
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(resets.reset(settings, "cr-02")))
    first.start()
    time.sleep(0.5)
    with pytest.raises(ConflictError, match="another operation on lab 'cr-02'"):
        resets.reset(settings, "cr-02")
    first.join()
    assert len(results) == 1


def test_killed_reset_leaves_the_baseline_intact(
    settings: Settings, lab_env: dict[str, str], klass: str
) -> None:
    plan = lifecycle.get_lab(settings, "cr-02").plan
    current = generations.current(plan)
    assert current is not None
    before = digests(current.directory(plan))
    proc = subprocess.Popen([*LAB, "reset", "cr-02"], env=lab_env, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # mid-way: machine destroyed, overlay or restore under way
    proc.kill()
    proc.wait()
    after_kill = generations.current(plan)
    assert after_kill == current
    assert digests(current.directory(plan)) == before
    done = resets.reset(settings, "cr-02")
    assert done.ok and done.mode is ResetMode.MEMORY
    assert sh(settings, "cr-02", "hostname").stdout.strip() == "m1"
