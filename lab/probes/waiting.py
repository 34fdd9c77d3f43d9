"""Waiting until probes pass: repeat them until all answer as expected, or time runs out."""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic, sleep

from lab.errors import LabError
from lab.probes.model import ProbeResult

NOTE_EVERY = 15.0  # seconds between progress lines while probes still fail


class ProbesFailedError(LabError):
    """Probes still failed when their deadline came."""


def wait_until_ok(
    run: Callable[[], tuple[ProbeResult, ...]],
    deadline_s: float,
    note: Callable[[str], None],
    every: float = 2.0,
) -> tuple[ProbeResult, ...]:
    """Call `run` every `every` seconds until all its results are ok; return them.

    `note` hears which probe is still failing, and why, at most every NOTE_EVERY seconds.
    `ProbesFailedError` lists every probe failing at `deadline_s`. What `run` raises (the
    checking machine is unreachable) ends the wait: `run` decides what is worth retrying.
    """
    started = monotonic()
    noted: float | None = None
    while True:
        results = run()
        failing = [r for r in results if not r.ok]
        if not failing:
            return results
        now = monotonic()
        if now - started >= deadline_s:
            raise _failed(failing, deadline_s)
        if noted is None or now - noted >= NOTE_EVERY:
            noted = now
            first = failing[0]
            more = f" (and {len(failing) - 1} more)" if len(failing) > 1 else ""
            note(f"waiting for {_name(first)}: {first.detail}{more}")
        sleep(max(0.0, min(every, started + deadline_s - now)))


def _name(result: ProbeResult) -> str:
    return f"{result.spec.machine}: {result.spec.describe()}"


def _failed(failing: list[ProbeResult], deadline_s: float) -> ProbesFailedError:
    lines = "\n".join(f"  {_name(r)}: {r.detail}" for r in failing)
    count = "1 probe" if len(failing) == 1 else f"{len(failing)} probes"
    return ProbesFailedError(
        f"{count} still failing after {deadline_s:.0f} s:\n{lines}",
        hint="the machine may need longer to start, or its service is down or set up"
        " differently: look at its console on the lab's page (`lab status` says whether it"
        " runs), and check the addresses, ports and expected texts of its checks",
    )
