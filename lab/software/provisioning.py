"""Applying roles to a lab with ansible-runner: progress from its events, failures named.

Each run is a directory under `labs/LAB/ansible/` (ansible-runner's private data dir:
the generated inventory, and `artifacts/<ident>/` with the run's stdout and events, the
last ten kept). The hosts are the profile's machine names, reached through the lab's
ssh_config (pinned host keys). Everything the roles install is already in the image
(see prepare.py), so a run needs no network beyond the lab's management network.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_runner
from pydantic import BaseModel, ConfigDict

from lab.base import Progress
from lab.errors import LabError
from lab.labs import passwords, ssh_config
from lab.labs.plan import LabPlan
from lab.profile import Profile
from lab.settings import Settings
from lab.software import inventory as inv

_KEEP_RUNS = 10
_TIMEOUT = 3600
_CONNECT_TIMEOUT = 60


class ProvisionError(LabError):
    """An Ansible task failed, or a machine could not be reached."""

    def __init__(self, message: str, hint: str = "", artifacts: str = "") -> None:
        super().__init__(message, hint)
        self.artifacts = artifacts  # the run's ansible-runner artifacts directory


class TaskFailure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    machine: str
    role: str  # as the profile names it; "" for a task outside any role
    task: str
    message: str
    unreachable: bool = False


class ProvisionResult(BaseModel):
    """What one ansible-runner run did, per machine and per role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lab: str
    status: str  # ansible-runner's: successful | failed | timeout | canceled
    seconds: float
    changed: dict[str, int]  # machine -> tasks that changed something
    ok: dict[str, int]
    failures: tuple[TaskFailure, ...] = ()
    role_seconds: dict[str, float] = {}  # role -> wall time spent in its tasks
    artifacts: str

    @property
    def succeeded(self) -> bool:
        return self.status == "successful" and not self.failures

    @property
    def total_changed(self) -> int:
        return sum(self.changed.values())


def provision(
    settings: Settings,
    plan: LabPlan,
    profile: Profile,
    progress: Progress,
    limit: list[str] | None = None,
) -> ProvisionResult:
    """Apply every machine's roles; raise ProvisionError naming what failed."""
    if not inv.role_order(plan):
        return ProvisionResult(
            lab=plan.lab, status="successful", seconds=0.0, changed={}, ok={}, artifacts=""
        )
    result = run_plays(settings, plan, profile, inv.playbook(plan), progress, limit)
    raise_for(result)
    return result


def run_plays(
    settings: Settings,
    plan: LabPlan,
    profile: Profile,
    plays: list[dict[str, Any]] | str,
    progress: Progress,
    limit: list[str] | None = None,
) -> ProvisionResult:
    """Run plays (or a playbook file) against the lab; the result says what happened
    (no exception on failure)."""
    private = plan.directory / "ansible"
    private.mkdir(mode=0o700, parents=True, exist_ok=True)
    ssh_file = ssh_config.write(plan)
    secrets = passwords.account_passwords(plan.keys_dir, profile)
    variables = inv.lab_vars(plan, profile, secrets)
    tracker = _Tracker(progress)
    ident = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        ident=ident,
        playbook=plays,
        inventory=inv.inventory(plan, variables, ssh_file),
        limit=",".join(limit) if limit else None,
        envvars=_envvars(settings),
        event_handler=tracker.event,
        quiet=True,
        suppress_env_files=True,
        rotate_artifacts=_KEEP_RUNS,
        timeout=_TIMEOUT,
    )
    seconds = time.monotonic() - started
    stats: dict[str, Any] = runner.stats or {}
    artifacts = private / "artifacts" / ident
    redact(artifacts, list(secrets.values()))
    return ProvisionResult(
        lab=plan.lab,
        status=str(runner.status),
        seconds=seconds,
        changed=dict(stats.get("changed", {})),
        ok=dict(stats.get("ok", {})),
        failures=tuple(tracker.failures),
        role_seconds=tracker.role_seconds(),
        artifacts=str(artifacts),
    )


def redact(directory: Path, secrets: list[str]) -> None:
    """Blank out any password in a run's kept artifacts. Tasks handling passwords are
    no_log, yet ansible-runner's saved job events can still carry values of the host
    variables; the events were consumed live, so the files only need to be safe to keep."""
    if not directory.is_dir():
        return
    for path in directory.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        clean = text
        for secret in secrets:
            clean = clean.replace(secret, "********")
        if clean != text:
            path.write_text(clean, encoding="utf-8", errors="surrogateescape")


def raise_for(result: ProvisionResult) -> None:
    """A ProvisionError naming the machine, role and task that failed, with Ansible's word."""
    if result.succeeded:
        return
    log = f"Ansible's full output: {result.artifacts}/stdout"
    if not result.failures:
        raise ProvisionError(
            f"provisioning lab '{result.lab}' ended {result.status}",
            hint=log,
            artifacts=result.artifacts,
        )
    lines = [
        (
            f"machine '{f.machine}' is unreachable: {f.message}"
            if f.unreachable
            else f"machine '{f.machine}', role '{f.role or '-'}', task '{f.task}': {f.message}"
        )
        for f in result.failures
    ]
    raise ProvisionError(
        f"provisioning lab '{result.lab}' failed:\n  " + "\n  ".join(lines),
        hint=f"fix the role or the profile, then apply it again: lab provision {result.lab}; "
        + log,
        artifacts=result.artifacts,
    )


def _envvars(settings: Settings) -> dict[str, str]:
    # ansible-playbook from this interpreter's environment (a venv need not be on PATH).
    bindir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_ROLES_PATH": str(settings.playbooks_dir / "roles"),
        # One SSH session per task instead of copying module files over: much faster
        # under TCG, and safe (Debian's sudo does not require a tty).
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_FORKS": "10",
        # Ansible waits for the SSH connection and for sudo's answer this long (its own
        # default of 10 s, +2 for sudo). Under TCG with several guests booting on the same
        # cores, sudo alone has taken longer, and Ansible then gives the machine up.
        "ANSIBLE_TIMEOUT": str(_CONNECT_TIMEOUT),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(settings.home / "tmp" / "ansible"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(settings.home / "tmp" / "ansible-cp"),
    }


class _Tracker:
    """Turns ansible-runner events into progress lines, failures and per-role times."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.failures: list[TaskFailure] = []
        self._starts: list[tuple[str, float]] = []  # (role, monotonic time) per task start
        self._ended: float | None = None

    def event(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data: dict[str, Any] = event.get("event_data", {}) or {}
        role = _profile_role(str(data.get("role", "") or ""))
        task = str(data.get("task", "") or "")
        host = str(data.get("host", "") or "")
        if kind == "playbook_on_task_start":
            self._starts.append((role, time.monotonic()))
        elif kind == "playbook_on_stats":
            self._ended = time.monotonic()
        elif kind == "runner_on_ok" and data.get("res", {}).get("changed"):
            self.progress(host, f"{role or 'play'}: {task} (changed)")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            self.failures.append(
                TaskFailure(machine=host, role=role, task=task, message=_message(data))
            )
            self.progress(host, f"{role or 'play'}: {task} FAILED")
        elif kind == "runner_on_unreachable":
            self.failures.append(
                TaskFailure(
                    machine=host, role=role, task=task, message=_message(data), unreachable=True
                )
            )
        return True

    def role_seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        end = self._ended if self._ended is not None else time.monotonic()
        # Each task lasts until the next one starts, the last until the run ended; a run
        # that started no task (every host matched nothing) has no time to share out.
        for (role, start), (_, following) in zip(
            self._starts, [*self._starts[1:], ("", end)][: len(self._starts)], strict=True
        ):
            key = role or "play"
            out[key] = out.get(key, 0.0) + (following - start)
        return out


def _profile_role(directory: str) -> str:
    return directory.replace("_", "-")


def _message(data: dict[str, Any]) -> str:
    res: dict[str, Any] = data.get("res", {}) or {}
    parts = [str(res.get("msg", "") or "").strip()]
    for stream in ("stderr", "stdout"):
        text = str(res.get(stream, "") or "").strip()
        if text and text not in parts[0]:
            tail = "\n".join(text.splitlines()[-8:])
            parts.append(f"{stream}: {tail}")
    return "\n    ".join(p for p in parts if p) or "(Ansible gave no message)"
