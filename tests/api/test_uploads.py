"""What a tester uploads to apply is written where no other request's file is, and
removed when its operation ends or is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lab.errors import LabError
from lab.labs.locks import lab_lock
from lab.settings import Settings
from lab.software import stack
from tests.api.conftest import WaitOp

Headers = dict[str, dict[str, str]]
APPLY = "/api/v1/labs/mine/apply?kind=playbook&filename=site.yml"


def _files(root: Path) -> list[str]:
    return sorted(str(Path(d, f).relative_to(root)) for d, _, files in os.walk(root) for f in files)


def test_a_refused_upload_is_not_kept(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    uploads = settings.labs_dir / "mine" / "uploads"
    with lab_lock(settings, "mine"):  # another operation (the CLI's) holds the lab
        answer = client.post(APPLY, content=b"- hosts: all\n", headers=headers["tester"])
    assert answer.status_code == 409, answer.text
    assert not uploads.exists() or _files(uploads) == []


def test_an_upload_is_removed_when_its_operation_ends(
    client: TestClient,
    headers: Headers,
    settings: Settings,
    wait_op: WaitOp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    def apply(_settings: Settings, _name: str, *, playbook: Path, **_: object) -> None:
        seen.append(playbook.read_bytes())  # there while its operation runs
        raise LabError("the playbook failed")

    monkeypatch.setattr(stack, "apply", apply)
    uploads = settings.labs_dir / "mine" / "uploads"
    answer = client.post(APPLY, content=b"- hosts: all\n", headers=headers["tester"])
    assert answer.status_code == 202, answer.text
    assert wait_op(answer.json()["url"], headers["tester"])["status"] == "failed"
    assert seen == [b"- hosts: all\n"]
    assert _files(uploads) == []
