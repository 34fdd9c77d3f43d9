"""Use cases of a lab's software stack: prepare, provision, apply, test.

`up` provisions and verifies through the same functions (`provision_record`,
`verify_record`), so a lab that `up` calls ready has passed exactly what `lab test` runs.
Only a verified lab may be baselined ("class-ready" means verified).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lab.base import Progress, quiet
from lab.errors import ConflictError, InvalidError, LabError, NotFoundError
from lab.images import role_images
from lab.images.model import Image
from lab.labs.locks import lab_lock
from lab.labs.records import LabRecord, VerificationSummary
from lab.profile import Profile, load_profile
from lab.settings import Settings
from lab.software import guest_playbook, guest_results, inventory, provisioning
from lab.software import verification as verifying
from lab.store.state import StateStore, now


class VerificationError(LabError):
    """The lab runs, but its tests do not pass."""


def spec_of(record: LabRecord) -> Profile:
    """The profile a lab was brought up from (as recorded then)."""
    if record.spec is not None:
        return record.spec
    return load_profile(Path(record.profile_path))


def prepare(settings: Settings, profile_path: Path, progress: Progress = quiet) -> dict[str, Image]:
    """Bake every image the profile's machines need (lab.images.role_images): machine -> image."""
    return role_images.prepare(settings, load_profile(profile_path), progress)


def provision(
    settings: Settings, name: str, progress: Progress = quiet
) -> provisioning.ProvisionResult:
    """Apply the lab's roles again (idempotent); the lab must be verified again after."""
    with lab_lock(settings, name):
        record = StateStore.open(settings).get_lab(name)
        return provision_record(settings, record, progress)


def apply(
    settings: Settings,
    name: str,
    *,
    playbook: Path | None = None,
    package: Path | None = None,
    machine: str | None = None,
    progress: Progress = quiet,
) -> provisioning.ProvisionResult:
    """Put software under test onto a lab: a playbook of the tester's, or one .deb.

    The tester's playbook runs inside each targeted machine, by the machine's own
    ansible-core (see lab.software.guest_playbook): nothing of it runs on the host. A package is
    installed by a playbook the lab writes itself, run from the host as provisioning is.
    """
    if (playbook is None) == (package is None):
        raise InvalidError("give either a playbook or --package FILE.deb, not both or neither")
    book = guest_playbook.read_playbook(playbook) if playbook is not None else None
    if package is not None:
        if not package.is_file():
            raise NotFoundError(f"no file {package}", hint="give the path of an existing file")
        if package.suffix != ".deb":
            raise InvalidError(
                f"{package.name} is not a .deb package", hint="build one with dpkg-deb"
            )
    with lab_lock(settings, name):
        state = StateStore.open(settings)
        record = state.get_lab(name)
        machines = [m.name for m in record.plan.managed_machines]
        if machine is not None and machine in {m.name for m in record.plan.appliances}:
            raise InvalidError(
                f"machine '{machine}' of lab '{name}' is an appliance: the lab does not log"
                " into it, so it cannot apply software there",
                hint="install software in an appliance through its own console",
            )
        if machine is not None and machine not in machines:
            raise NotFoundError(
                f"lab '{name}' has no machine '{machine}'", hint=f"machines: {', '.join(machines)}"
            )
        targets = [machine] if machine else machines
        if book is not None:
            result = guest_playbook.apply(record.plan, spec_of(record), book, targets, progress)
        else:
            assert package is not None
            plays = inventory.package_playbook(package.resolve(), targets)
            result = provisioning.run_plays(
                settings, record.plan, spec_of(record), plays, progress, limit=targets
            )
        # What ran before no longer describes the lab: it must be tested again.
        state.update_lab(record.model_copy(update={"verification": None}))
        if book is not None:
            guest_results.raise_for(result, book.name)
        provisioning.raise_for(result)
        return result


def test(settings: Settings, name: str, progress: Progress = quiet) -> verifying.Verification:
    """Run the lab's verification suite; the verdict is recorded (and returned)."""
    with lab_lock(settings, name):
        record = StateStore.open(settings).get_lab(name)
        return verify_record(settings, record, progress)


def provision_record(
    settings: Settings, record: LabRecord, progress: Progress
) -> provisioning.ProvisionResult:
    _make_temp(settings)
    state = StateStore.open(settings)
    state.update_lab(record.model_copy(update={"verification": None}))
    result = provisioning.provision(settings, record.plan, spec_of(record), progress)
    state.update_lab(state.get_lab(record.name).model_copy(update={"provisioned_at": now()}))
    return result


def verify_record(
    settings: Settings, record: LabRecord, progress: Progress
) -> verifying.Verification:
    verification = verifying.verify(settings, record.plan, spec_of(record), progress)
    summary = VerificationSummary(
        passed=verification.passed,
        at=verification.at,
        total=len(verification.results),
        failed=tuple(f"{r.role}: {r.name} [{r.machine}]" for r in verification.failed),
    )
    state = StateStore.open(settings)
    state.update_lab(state.get_lab(record.name).model_copy(update={"verification": summary}))
    return verification


def raise_unverified(verification: verifying.Verification) -> None:
    if verification.passed:
        return
    lines = [
        f"{r.role}: {r.name} [{r.machine}]: {r.message.splitlines()[0] if r.message else r.outcome}"
        for r in verification.failed
    ] or ["no test ran"]
    raise VerificationError(
        f"lab '{verification.lab}' is up but not verified; failing:\n  " + "\n  ".join(lines),
        hint=f"details: lab test {verification.lab} (JUnit: {verification.junit}); "
        f"after fixing: lab provision {verification.lab} && lab test {verification.lab}",
    )


def require_verified(record: LabRecord) -> None:
    """Refuse to baseline a lab that has not passed its tests since it last changed."""
    summary = record.verification
    if summary is not None and summary.passed:
        return
    why = (
        "it has not been tested since it was provisioned or changed"
        if summary is None
        else f"its last test failed ({', '.join(summary.failed) or 'no test ran'})"
    )
    raise ConflictError(
        f"lab '{record.name}' is not verified: {why}",
        hint=f"a baseline is taken only from a verified lab: lab test {record.name}",
    )


def keep_log(settings: Settings, result_artifacts: str, lab: str) -> Path | None:
    """Copy a failed run's Ansible output out of a lab that is about to be removed."""
    source = Path(result_artifacts) / "stdout"
    if not source.is_file():
        return None
    logs = settings.home / "logs"
    logs.mkdir(mode=0o700, exist_ok=True)
    dest = logs / f"{lab}-provision-{Path(result_artifacts).name}.log"
    # Ansible's output names hosts, users and paths: readable by the service user only.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as given:
        shutil.copyfileobj(given, out)
    return dest


def _make_temp(settings: Settings) -> None:
    for sub in ("ansible", "ansible-cp"):
        (settings.home / "tmp" / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
