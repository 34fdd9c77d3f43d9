"""What a guest's Ansible run said, read as untrusted data (see lab.software.guest_playbook).

The guest's `lab_json` callback writes one JSON line per task result and one JSON
document at the end. The tester is root in the guest and may forge both, so everything
here is bounded (sizes, counts, text) and made printable before a person sees it. No I/O
of its own: tested with real documents of the guest's ansible-core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.base import Progress
from lab.errors import LabError
from lab.software.provisioning import ProvisionError, ProvisionResult, TaskFailure

MAX_LINE = 64 << 10  # bytes of one progress line; longer ones are skipped
TIMED_OUT = (124, 137)  # timeout(1): the command timed out / was killed after -k
TEXT = 2000  # characters of a message from a guest shown to people
# What a guest reports is bounded in count too (the tester is root there and can write
# any document): failures per machine, progress lines per run, distinct roles timed.
MAX_FAILURES = 20
MAX_PROGRESS = 500
MAX_ROLES = 50
_LABEL = 120  # characters of a task or host name in a progress line


class GuestEvent(BaseModel):
    """One task result as the guest's `lab_json` callback reports it (untrusted)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    play: str = ""
    task: str = ""
    role: str = ""
    host: str = ""
    status: Literal["ok", "changed", "failed", "unreachable", "skipped"]
    ignored: bool = False
    msg: str = ""
    stdout: str = ""
    stderr: str = ""


class GuestTask(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    play: str = ""
    task: str = ""
    role: str = ""
    started: float
    ended: float


class GuestDocument(BaseModel):
    """The whole run in one machine: what `lab_json` writes to $LAB_RESULT."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal[1]
    ansible_version: str = ""
    tasks: list[GuestTask] = []
    results: list[GuestEvent] = []
    stats: dict[str, dict[str, int]] = Field(default_factory=dict)


class MachineRun(BaseModel):
    """What one machine's run did, folded into a `ProvisionResult` by `combine`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    machine: str
    status: str  # successful | failed | timeout
    changed: int = 0
    ok: int = 0
    failures: tuple[TaskFailure, ...] = ()
    role_seconds: dict[str, float] = {}


def parse_document(data: bytes) -> GuestDocument:
    """The callback's result document; anything else is an error naming what is wrong."""
    try:
        return GuestDocument.model_validate_json(data)
    except ValidationError as exc:
        raise LabError(
            "the machine's Ansible run left a result the lab cannot read "
            f"({exc.error_count()} problems, first: {clean(str(exc.errors()[0]['msg']), 200)})",
            hint="the run's callback output was changed or cut short; apply the playbook again",
        ) from exc


def machine_run(
    machine: str, exit_code: int, document: GuestDocument | None, stderr: str, timeout: int
) -> MachineRun:
    """Fold one machine's run into changed/ok counts and failures named by task.

    Every host the guest's Ansible reported (the machine, `localhost`, hosts a play
    added) is that machine: nothing else ran it. A host's fatal failures are its last
    `failures` non-ignored failed results (a failed host runs no further task; rescued
    and ignored ones are not counted by Ansible's own stats).
    """
    timed_out = exit_code in TIMED_OUT
    if document is None:
        why = (
            f"the playbook did not finish within {timeout} s"
            if timed_out
            else "the playbook did not run: " + (clean(stderr, TEXT) or f"exit {exit_code}")
        )
        return MachineRun(
            machine=machine,
            status="timeout" if timed_out else "failed",
            failures=(TaskFailure(machine=machine, role="", task="", message=why),),
        )
    failures: list[TaskFailure] = []
    for host, counts in document.stats.items():
        for kind, key in (("failed", "failures"), ("unreachable", "unreachable")):
            wanted = max(0, counts.get(key, 0))
            if not wanted:
                continue
            mine = [
                r
                for r in document.results
                if r.host == host and r.status == kind and not (kind == "failed" and r.ignored)
            ]
            failures += [_failure(machine, r) for r in mine[-wanted:]]
    if len(failures) > MAX_FAILURES:
        more = len(failures) - MAX_FAILURES
        failures = failures[:MAX_FAILURES]
        failures.append(
            TaskFailure(machine=machine, role="", task="", message=f"and {more} more failed tasks")
        )
    if exit_code != 0 and not failures:
        failures.append(
            TaskFailure(
                machine=machine,
                role="",
                task="",
                message=f"ansible-playbook ended with exit {exit_code}: "
                + (clean(stderr, TEXT) or "(no message)"),
            )
        )
    seconds: dict[str, float] = {}
    for task in document.tasks:
        key = clean(_profile_role(task.role), _LABEL) or "play"
        if key not in seconds and len(seconds) >= MAX_ROLES:
            key = "(other roles)"
        seconds[key] = seconds.get(key, 0.0) + max(0.0, task.ended - task.started)
    status = "timeout" if timed_out else ("successful" if not failures else "failed")
    return MachineRun(
        machine=machine,
        status=status,
        changed=sum(max(0, c.get("changed", 0)) for c in document.stats.values()),
        ok=sum(max(0, c.get("ok", 0)) for c in document.stats.values()),
        failures=tuple(failures),
        role_seconds=seconds,
    )


def combine(
    lab: str, runs: Sequence[MachineRun], seconds: float, artifacts: str
) -> ProvisionResult:
    """One result for the lab, of the same kind `lab provision` gives."""
    statuses = {r.status for r in runs}
    status = next((s for s in ("timeout", "failed") if s in statuses), "successful")
    role_seconds: dict[str, float] = {}
    for run in runs:  # machines run side by side: a role took as long as its slowest
        for role, took in run.role_seconds.items():
            role_seconds[role] = max(role_seconds.get(role, 0.0), took)
    return ProvisionResult(
        lab=lab,
        status=status,
        seconds=seconds,
        changed={r.machine: r.changed for r in runs},
        ok={r.machine: r.ok for r in runs},
        failures=tuple(f for r in runs for f in r.failures),
        role_seconds=role_seconds,
        artifacts=artifacts,
    )


def raise_for(result: ProvisionResult, playbook: str) -> None:
    """A ProvisionError naming each machine and task that failed, with Ansible's word."""
    if result.succeeded:
        return
    lines = [_failure_line(f) for f in result.failures] or [f"the run ended {result.status}"]
    raise ProvisionError(
        f"applying {playbook} to lab '{result.lab}' failed:\n  " + "\n  ".join(lines),
        hint=f"the playbook ran inside the machine (its own ansible-core, connection local); "
        f"fix it, then apply it again: lab apply {result.lab} {playbook}",
        artifacts=result.artifacts,
    )


def progress_line(line: bytes) -> str | None:
    """A progress message for one event line of the guest's callback (None: nothing to say)."""
    try:
        event = GuestEvent.model_validate_json(line)
    except ValidationError:
        return None  # the stats line, or anything else on stdout: not progress
    where = clean(_profile_role(event.role), _LABEL) or "play"
    task = clean(event.task, _LABEL)
    if event.status == "changed":
        return f"{where}: {task} (changed)"
    if event.status == "failed":
        return f"{where}: {task} {'failed (ignored)' if event.ignored else 'FAILED'}"
    if event.status == "unreachable":
        return f"{where}: {task} UNREACHABLE"
    return None


class ProgressRelay:
    """Event lines of one machine's run to progress messages, at most `limit` of them
    (then one saying so): progress is stored, and a guest may print without end."""

    def __init__(self, machine: str, progress: Progress, limit: int = MAX_PROGRESS) -> None:
        self.machine = machine
        self.progress = progress
        self.limit = limit
        self.shown = 0

    def line(self, line: bytes) -> None:
        message = progress_line(line)
        if message is None or self.shown > self.limit:
            return
        self.shown += 1
        if self.shown > self.limit:
            message = f"(more than {self.limit} progress lines: the rest not shown)"
        self.progress(self.machine, message)


class LineSplitter:
    """Feeds complete lines of a byte stream to `on_line`; a line longer than `limit` is
    dropped whole, so a guest cannot make the host hold an endless line."""

    def __init__(self, on_line: Callable[[bytes], None], limit: int = MAX_LINE) -> None:
        self.on_line = on_line
        self.limit = limit
        self._buffer = bytearray()
        self._dropping = False

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._dropping:
                self._dropping = False
            else:
                self.on_line(line)
        if len(self._buffer) > self.limit:
            self._buffer.clear()
            self._dropping = True


def _failure(machine: str, event: GuestEvent) -> TaskFailure:
    parts = [clean(event.msg, TEXT)]
    for stream in (event.stderr, event.stdout):
        text = clean(stream, TEXT)
        if text and text not in parts[0]:
            parts.append(text)
    message = "\n    ".join(p for p in parts if p) or "(Ansible gave no message)"
    if event.host != machine:
        # `hosts: localhost`, a delegation or an added host: still this machine.
        message = f"[as host '{clean(event.host, _LABEL)}' inside it] {message}"
    return TaskFailure(
        machine=machine,
        role=clean(_profile_role(event.role), _LABEL),
        task=clean(event.task, _LABEL),
        message=message,
        unreachable=event.status == "unreachable",
    )


def _failure_line(f: TaskFailure) -> str:
    role = f", role '{f.role}'" if f.role else ""
    if f.task:
        return f"machine '{f.machine}'{role}, task '{f.task}': {f.message}"
    return f"machine '{f.machine}': {f.message}"


def _profile_role(directory: str) -> str:
    return directory.replace("_", "-")


def clean(text: str, limit: int) -> str:
    """Text from a guest, fit to show: printable (line breaks kept), at most `limit`."""
    kept = "".join(c if c.isprintable() or c == "\n" else "?" for c in text.strip())
    return kept if len(kept) <= limit else kept[: limit - 3] + "..."
