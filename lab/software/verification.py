"""`lab test`: run the roles' testinfra tests and the profile's checks against a lab.

pytest runs in a child process (a verification must not share our interpreter's state,
and pytest is meant to own its process), with lab.software.verify_plugin for the fixtures. Its
JUnit report is the record: we keep it under `labs/LAB/verify/<ident>/`, copy it where
asked, and turn it into the JSON and the verdict we return.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from lab import commands
from lab.base import Progress
from lab.errors import CommandError
from lab.labs import appliances, passwords, ssh_config
from lab.labs.plan import LabPlan
from lab.profile import Profile
from lab.settings import Settings
from lab.software import inventory as inv
from lab.software import roles
from lab.software.verify_plugin import CONTEXT_ENV

_CHECKS_MODULE = Path(__file__).with_name("verify_checks.py")
_KEEP_RUNS = 10
_TIMEOUT = 1800


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # the test function or the profile check
    machine: str
    role: str  # as the profile names it; "profile" for the profile's own checks
    outcome: Outcome
    seconds: float
    message: str = ""


class Verification(BaseModel):
    """The verdict of one `lab test` run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lab: str
    passed: bool
    at: datetime
    seconds: float
    results: tuple[CheckResult, ...]
    junit: str  # the kept JUnit report

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.outcome in (Outcome.FAILED, Outcome.ERROR))


def verdict(results: tuple[CheckResult, ...]) -> bool:
    """Verified (pure): nothing failed, and every machine's every role (and the profile's
    own checks) had at least one test that ran and passed. A skipped test is reported as
    skipped, never counted as passed: a role whose tests were all skipped is unverified."""
    if not results or any(r.outcome in (Outcome.FAILED, Outcome.ERROR) for r in results):
        return False
    groups = {(r.machine, r.role) for r in results}
    passed = {(r.machine, r.role) for r in results if r.outcome is Outcome.PASSED}
    return groups == passed


def verify(settings: Settings, plan: LabPlan, profile: Profile, progress: Progress) -> Verification:
    """Run every test of the lab's roles and profile; the result holds the verdict."""
    ident = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    root = plan.directory / "verify"
    work = root / ident
    work.mkdir(mode=0o700, parents=True)
    _prune(root)
    ctx = work / "context.json"
    fd = os.open(ctx, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(context(plan, profile, ssh_config.write(plan)), f)
    files = test_files(settings, plan)
    if not files:  # nothing to verify beyond the machines answering, which `up` saw
        return Verification(
            lab=plan.lab, passed=True, at=datetime.now(UTC), seconds=0.0, results=(), junit=""
        )
    # Our own (empty) configuration: the repository's pytest settings are for its tests.
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    junit = work / "junit.xml"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "lab.software.verify_plugin",
        "-p",
        "no:cacheprovider",
        # testinfra as a library only: its plugin's own `host` fixture (and `--hosts`
        # parametrization) would run tests on this host instead of the lab's machines.
        "-p",
        "no:pytest11.testinfra",
        "-c",
        str(ini),
        "--import-mode=importlib",
        "-q",
        "-rN",
        "--tb=short",
        f"--rootdir={work}",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit2",
        *map(str, files),
    ]
    progress(plan.lab, f"running the tests of {len(files)} file(s)")
    started = time.monotonic()
    env = {**os.environ, CONTEXT_ENV: str(ctx)}
    # pytest writes nothing we need on stdout: the JUnit report has every result.
    proc = commands.complete(
        argv,
        cwd=work,
        env=env,
        timeout=_TIMEOUT,
        hint=f"a check hangs in a machine of lab '{plan.lab}': run `lab test {plan.lab}` "
        "again, or look at its console",
    )
    seconds = time.monotonic() - started
    fd = os.open(work / "pytest.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as log:  # a failing check may print what it was given
        log.write(proc.stdout + proc.stderr)
    if not junit.is_file():
        raise CommandError(
            f"the tests of lab '{plan.lab}' did not run (pytest exit {proc.returncode}): "
            + proc.stdout.decode(errors="replace").strip()[-600:],
            hint=f"pytest's output: {work / 'pytest.log'}",
        )
    results = parse_junit(junit.read_text(encoding="utf-8"))
    for result in results:
        progress(result.machine or plan.lab, f"{result.role}: {result.name} {result.outcome}")
    return Verification(
        lab=plan.lab,
        passed=proc.returncode == 0 and verdict(results),
        at=datetime.now(UTC),
        seconds=seconds,
        results=results,
        junit=str(junit),
    )


def context(plan: LabPlan, profile: Profile, ssh_config: Path) -> dict[str, Any]:
    """What the plugin's fixtures hand the tests (the roles' variables, checks, access)."""
    variables = inv.lab_vars(plan, profile, passwords.account_passwords(plan.keys_dir, profile))
    checks = [c.model_dump(mode="json") for c in plan.checks if c.run is not None]
    return {
        **variables,
        "checks": checks,
        "probes": probe_checks(plan),
        "ssh_config": str(ssh_config),
    }


def probe_checks(plan: LabPlan) -> list[dict[str, Any]]:
    """The profile's probe tests as the plugin runs them: on the managed machine that
    reaches the probed one (`runner`), with the probe program's command line. A probe's
    password is in its spec: the context file is the user's alone (0600)."""
    out = []
    known = passwords.known_passwords(plan.keys_dir)
    for check in plan.checks:
        if check.probe is None or check.machine is None:
            continue
        machine = plan.machine(check.machine)
        spec = appliances.spec_of(machine, check.probe, known)
        runner = plan.probe_runner(machine, check.probe.nic, check.probe.runner)
        out.append(
            {
                "name": check.name,
                "machine": machine.name,
                "runner": runner.name,
                "spec": spec.model_dump(mode="json"),
            }
        )
    return out


def test_files(settings: Settings, plan: LabPlan) -> list[Path]:
    files: list[Path] = []
    for name in inv.role_order(plan):
        files += roles.load_role(settings.playbooks_dir, name).tests
    if plan.checks:
        files.append(_CHECKS_MODULE)
    return files


def parse_junit(text: str) -> tuple[CheckResult, ...]:
    """pytest's JUnit XML (xunit2) -> results (pure)."""
    root = ET.fromstring(text)
    out = []
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        base = props.get("test") or case.get("name", "")
        machine = props.get("machine", "")
        role = props.get("role", "profile")
        outcome, message = Outcome.PASSED, ""
        for tag, kind in (
            ("failure", Outcome.FAILED),
            ("error", Outcome.ERROR),
            ("skipped", Outcome.SKIPPED),
        ):
            node = case.find(tag)
            if node is not None:
                outcome = kind
                message = (node.get("message") or node.text or "").strip()
                break
        out.append(
            CheckResult(
                name=base,
                machine=machine,
                role=role,
                outcome=outcome,
                seconds=float(case.get("time", "0") or 0),
                message=message[:2000],
            )
        )
    return tuple(out)


def latest(plan: LabPlan) -> Verification | None:
    """The lab's most recent verification, read back from its kept JUnit report."""
    root = plan.directory / "verify"
    runs = sorted(p for p in root.glob("*/junit.xml")) if root.is_dir() else []
    if not runs:
        return None
    junit = runs[-1]
    text = junit.read_text(encoding="utf-8")
    results = parse_junit(text)
    suite = ET.fromstring(text).find("testsuite")
    seconds = float(suite.get("time", "0") or 0) if suite is not None else 0.0
    return Verification(
        lab=plan.lab,
        passed=verdict(results),
        at=datetime.fromtimestamp(junit.stat().st_mtime, UTC),
        seconds=seconds,
        results=results,
        junit=str(junit),
    )


def write_json(verification: Verification, path: Path) -> None:
    path.write_text(
        json.dumps(verification.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )


def copy_junit(verification: Verification, path: Path) -> None:
    shutil.copyfile(verification.junit, path)


def _prune(root: Path) -> None:
    runs = sorted(p for p in root.iterdir() if p.is_dir())
    for old in runs[:-_KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
