"""A lab's software: provision its roles, apply software under test, run its tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.auth import Action, CurrentUser, check_lab
from api.deps import RunnerDep, SettingsDep
from api.routes._common import ACCEPTED, accepted, start_on_lab
from api.schemas import OperationPublic, ProvisionPublic, VerificationPublic
from lab.base import Progress
from lab.errors import InvalidError, LabError, NotFoundError
from lab.labs import lifecycle
from lab.redact import path_redactor, redact_value
from lab.software import guest_playbook, stack
from lab.software import verification as verifying

router = APIRouter(prefix="/api/v1/labs", tags=["software"])
MAX_UPLOAD = 64 << 20  # bytes: a .deb under test, or a playbook
FILENAME = r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,120}$"
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The .deb package or the playbook, as sent by `curl --data-binary @FILE`",
    }
}


class ApplyKind(StrEnum):
    PACKAGE = "package"
    PLAYBOOK = "playbook"


@router.post("/{name}/provision", status_code=202, responses=ACCEPTED)
def provision(
    name: str, response: Response, user: CurrentUser, settings: SettingsDep, runner: RunnerDep
) -> OperationPublic:
    """Apply the lab's roles again (idempotent); the lab must be tested again afterwards."""

    def work(progress: Progress) -> ProvisionPublic:
        return ProvisionPublic.of(stack.provision(settings, name, progress))

    return start_on_lab(
        response,
        runner,
        settings,
        user,
        lab=name,
        action=Action.PROVISION,
        kind="provision",
        work=work,
    )


@router.post("/{name}/apply", status_code=202, responses=ACCEPTED, openapi_extra=_UPLOAD_BODY)
async def apply(
    name: str,
    request: Request,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
    kind: ApplyKind,
    filename: Annotated[str, Query(pattern=FILENAME, description="e.g. portal_2.1_all.deb")],
    machine: str | None = None,
) -> OperationPublic:
    """Put software under test onto the lab: one .deb, or an Ansible playbook (202).

    A playbook (at most 1 MiB) runs inside each targeted machine with the machine's own
    ansible-core and a local connection: `localhost` is the lab's machine, never this host.
    """
    check_lab(settings, user, name, Action.PROVISION)
    record = lifecycle.get_lab(settings, name)
    if machine is not None and machine not in {m.name for m in record.plan.machines}:
        raise NotFoundError(f"lab '{name}' has no machine '{machine}'")
    if kind is ApplyKind.PACKAGE and not filename.endswith(".deb"):
        raise InvalidError(f"{filename} is not a .deb package", hint="send kind=playbook for YAML")
    body = await request.body()
    if not body or len(body) > MAX_UPLOAD:
        raise InvalidError(
            f"the upload is {len(body)} bytes; 1 to {MAX_UPLOAD} are accepted",
            hint="send the file as the request body: curl --data-binary @FILE",
        )
    if kind is ApplyKind.PLAYBOOK:
        # Checked before it is stored: 1 MiB of UTF-8 text at most. It will run inside
        # the lab's machines only (lab.software.guest_playbook), never on this host.
        guest_playbook.playbook_from_bytes(filename, body)
    path = _save_upload(record.plan.directory / "uploads", filename, body)

    def work(progress: Progress) -> ProvisionPublic:
        given: dict[str, Path] = {"package" if kind is ApplyKind.PACKAGE else "playbook": path}
        try:
            result = stack.apply(settings, name, machine=machine, progress=progress, **given)
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
        return ProvisionPublic.of(result)

    try:
        op = runner.submit("apply", f"lab/{name}", user.name, work, lock=name)
    except LabError:  # busy: refused, and its upload with it
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    return accepted(response, op)


def _save_upload(uploads: Path, filename: str, body: bytes) -> Path:
    """The upload in a directory of its own (removed when its operation ends or is
    refused): a request refused as busy never overwrites the file of the one running."""
    uploads.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=uploads)) / filename
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    return path


@router.post("/{name}/test", status_code=202, responses=ACCEPTED)
def run_tests(
    name: str, response: Response, user: CurrentUser, settings: SettingsDep, runner: RunnerDep
) -> OperationPublic:
    """Run the lab's verification suite (roles' testinfra tests and the profile's checks).
    The operation's result is the verdict; results stay at .../tests/latest."""

    def work(progress: Progress) -> VerificationPublic:
        return VerificationPublic.of(stack.test(settings, name, progress))

    return start_on_lab(
        response, runner, settings, user, lab=name, action=Action.TEST, kind="test", work=work
    )


@router.get("/{name}/tests/latest")
def latest_results(name: str, user: CurrentUser, settings: SettingsDep) -> VerificationPublic:
    """The lab's most recent test results (JSON)."""
    found = VerificationPublic.of(_latest(settings, user, name))
    redacted = redact_value(found.model_dump(mode="json"), path_redactor(settings))
    return VerificationPublic.model_validate(redacted)  # no server paths in the messages


@router.get(
    "/{name}/tests/latest/junit",
    response_class=Response,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
def latest_junit(name: str, user: CurrentUser, settings: SettingsDep) -> Response:
    """The lab's most recent test results as a JUnit XML report."""
    verification = _latest(settings, user, name)
    text = Path(verification.junit).read_text(encoding="utf-8", errors="replace")
    return Response(path_redactor(settings)(text), media_type="application/xml")


def _latest(settings: SettingsDep, user: CurrentUser, name: str) -> verifying.Verification:
    check_lab(settings, user, name, Action.TEST)
    found = verifying.latest(lifecycle.get_lab(settings, name).plan)
    if found is None:
        raise NotFoundError(
            f"lab '{name}' has not been tested yet",
            hint=f"run its tests: POST .../labs/{name}/test",
        )
    return found
