"""Fault injection with real guests: `kill -9` of the orchestrator during `up`, `baseline`
and `reset`, and libvirtd restarted under a running operation.

After each fault `lab reconcile` runs, and then every lab must be fully present (domains
running as recorded, networks, overlays, keys, state row, a whole baseline) or fully gone
(no domain, network, directory, state row or held lock); baseline files must be unchanged
unless a new generation came into force whole; and the next operation must succeed.

Kill points are random but replayable: the seed is printed (and in every failure
message); set LAB_FAULT_SEED to replay a run. Each trial's outcome goes to the
reliability log (tests/reliability.py).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.baselines import generations, resets
from lab.baselines.records import ResetMode
from lab.labs import lifecycle
from lab.settings import Settings
from tests.integration.invariants import digests, lab_outcome
from tests.reliability import record

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

PROFILES = Path(__file__).parents[2] / "profiles"
LABNS = Path(__file__).parents[2] / "scripts" / "labns"
LAB = [sys.executable, "-m", "lab.cli"]
TRIALS = 5
SEED = int(os.environ.get("LAB_FAULT_SEED") or random.SystemRandom().randrange(1_000_000))


@pytest.fixture(scope="module")
def rng() -> random.Random:
    print(f"fault seed {SEED} (replay with LAB_FAULT_SEED={SEED})")
    return random.Random(SEED)


@pytest.fixture(scope="module")
def lab(baselined_class: tuple[str, ...]) -> str:
    """A tiny lab with a memory baseline, for the baseline and reset trials: the first seat
    of the session's shared class (each trial leaves it whole and reset, or fails)."""
    return baselined_class[0]


def kill_after_lines(argv: list[str], env: dict[str, str], lines: int, delay: float) -> str:
    """Run the `lab` CLI; SIGKILL it `delay` s after its `lines`-th progress line.
    Returns where it died; raises if it failed by itself first (then no fault was tried)."""
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = ""
    for count, line in enumerate(proc.stderr, start=1):
        seen = line.strip()
        if count >= lines:
            break
    time.sleep(delay)
    return _kill(proc, f"killed after {seen!r} + {delay:.1f} s")


def kill_after(argv: list[str], env: dict[str, str], delay: float) -> str:
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    return _kill(proc, f"killed at {delay:.1f} s")


def _kill(proc: subprocess.Popen[str], where: str) -> str:
    finished = proc.poll()
    proc.kill()
    _, stderr = proc.communicate()
    if finished is None:
        return where
    assert finished == 0, f"seed {SEED}: {proc.args!r} failed by itself:\n{stderr[-1500:]}"
    return "finished first"


def wait_for_other_streams() -> None:
    """A libvirtd restart reaches every lab in the namespace: when `make test` runs a
    heavy module beside this run (scripts/test-streams), wait until that one is done."""
    done = os.environ.get("LAB_TEST_EXCLUSIVE_AFTER")
    if not done:
        return
    deadline = time.monotonic() + 3600
    while not Path(done).exists():
        assert time.monotonic() < deadline, f"the other test stream never wrote {done}"
        time.sleep(5)


def reconciled(settings: Settings, lab: str, trial: str) -> tuple[str, list[str]]:
    """Reconcile; then (what became of the lab and what reconcile did, problems)."""
    done: list[str] = []
    lifecycle.reconcile(settings, lambda subject, message: done.append(f"{subject}: {message}"))
    outcome, problems = lab_outcome(settings, lab)
    return f"{outcome} {done}", [f"{trial}: {p}" for p in problems]


def baseline_kept(
    settings: Settings, lab: str, before: generations.Baseline, sums: dict[str, str]
) -> list[str]:
    """The old generation unchanged, or a new one in force (checked whole by lab_outcome)."""
    plan = lifecycle.get_lab(settings, lab).plan
    now = generations.current(plan)
    if now is None:
        return ["no baseline in force any more"]
    if now.generation == before.generation and digests(now.directory(plan)) != sums:
        return [f"baseline {before.generation} changed on disk"]
    return []


def next_reset_ok(settings: Settings, lab: str) -> list[str]:
    done = resets.reset(settings, lab)
    if not (done.ok and done.mode is ResetMode.MEMORY):
        return [f"next reset: {done.mode}, ok={done.ok}, {done.note}"]
    return []


def test_kill_during_up(settings: Settings, lab_env: dict[str, str], rng: random.Random) -> None:
    """Killed at a random progress line of `up` (before, during or after the boot)."""
    lost: list[str] = []
    seen: list[str] = []
    argv = [*LAB, "up", str(PROFILES / "tiny.yaml"), "--name", "ku"]
    for trial in range(TRIALS):
        # Lines 1-5: networks, keys, overlay, seed, domain, start; 6 on: the boot.
        line = rng.randint(1, 8)
        where = kill_after_lines(argv, lab_env, line, rng.uniform(0.0, 1.5 if line <= 5 else 30))
        outcome, problems = reconciled(settings, "ku", f"up trial {trial} ({where})")
        seen.append(f"{where}: {outcome}")
        lost += problems
        if outcome.startswith("present"):
            lifecycle.down(settings, "ku")
    # The same name comes up afterwards, whole.
    done = subprocess.run(argv, env=lab_env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lost.append(f"next up failed: {done.stderr[-500:]}")
    outcome, problems = lab_outcome(settings, "ku")
    lost += problems + ([] if outcome == "present" else ["next up left no lab"])
    lifecycle.down(settings, "ku")
    print("\n".join(["kill -9 during up:", *seen]))
    record("fault", "kill -9 during up", TRIALS, lost)
    assert lost == [], f"seed {SEED}; trials: {seen}"


@pytest.mark.parametrize("command", ["baseline", "reset"])
def test_kill_during_baseline_or_reset(
    settings: Settings, lab_env: dict[str, str], rng: random.Random, lab: str, command: str
) -> None:
    """Killed at a random instant of the operation's run, CLI start-up included: its
    duration is measured first, on a run that is left to finish."""
    started = time.monotonic()
    subprocess.run([*LAB, command, lab], env=lab_env, capture_output=True, check=True)
    spread = time.monotonic() - started
    lost: list[str] = []
    seen: list[str] = [f"a whole `lab {command}` took {spread:.1f} s"]
    for trial in range(TRIALS):
        plan = lifecycle.get_lab(settings, lab).plan
        before = generations.current(plan)
        assert before is not None
        sums = digests(before.directory(plan))
        where = kill_after([*LAB, command, lab], lab_env, rng.uniform(0.3, spread))
        name = f"{command} trial {trial} ({where})"
        outcome, problems = reconciled(settings, lab, name)
        seen.append(f"{where}: {outcome}")
        lost += problems + ([] if outcome.startswith("present") else [f"{name}: lab gone"])
        lost += [f"{name}: {p}" for p in baseline_kept(settings, lab, before, sums)]
        lost += [f"{name}: {p}" for p in next_reset_ok(settings, lab)]
    print("\n".join([f"kill -9 during {command}:", *seen]))
    record("fault", f"kill -9 during {command}", TRIALS, lost)
    assert lost == [], f"seed {SEED}; trials: {seen}"


@pytest.mark.timeout(3600)  # it may first wait for the other test stream (see below)
@pytest.mark.parametrize("command", ["baseline", "reset"])
def test_libvirtd_restart_during_an_operation(
    settings: Settings, lab_env: dict[str, str], rng: random.Random, lab: str, command: str
) -> None:
    """libvirtd goes away and comes back mid-operation: the operation ends (succeeded, or
    failed with a message and hint, no traceback), and after reconcile all is whole."""
    netns = os.environ.get("LAB_NETNS")
    if not netns:
        pytest.skip("needs the lab namespace (scripts/labns run ...) to restart libvirtd in")
    wait_for_other_streams()
    plan = lifecycle.get_lab(settings, lab).plan
    before = generations.current(plan)
    assert before is not None
    sums = digests(before.directory(plan))
    proc = subprocess.Popen(
        [*LAB, command, lab], env=lab_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(rng.uniform(1.5, 3.0))
    subprocess.run([str(LABNS), "restart-libvirtd", netns], check=True, capture_output=True)
    _, stderr = proc.communicate(timeout=600)
    lost: list[str] = []
    if "Traceback" in stderr:
        lost.append(f"{command}: a traceback instead of an error:\n{stderr[-2000:]}")
    if proc.returncode != 0 and not ("error:" in stderr and "hint:" in stderr):
        lost.append(f"{command}: failed without a message and hint: {stderr[-500:]}")
    outcome, problems = reconciled(settings, lab, f"libvirtd restart during {command}")
    lost += problems + ([] if outcome.startswith("present") else ["lab gone"])
    said = [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]
    print(f"\nlibvirtd restart during {command}: exit {proc.returncode} {said}; {outcome}")
    lost += baseline_kept(settings, lab, before, sums)
    lost += next_reset_ok(settings, lab)
    record("fault", f"libvirtd restart during {command}", 1, lost)
    assert lost == [], f"seed {SEED}; exit {proc.returncode}; stderr: {stderr[-1500:]}"
