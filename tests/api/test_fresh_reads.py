"""The API's cached reads never show stale state: what another process writes to the
state database (a lab, an assignment, a revoked token) counts at the next request. And
the JSON rendered once per lab is the JSON FastAPI would render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from api.schemas import LabPublic
from lab.labs.records import LabStatus
from lab.settings import Settings
from lab.store.state import StateStore

Headers = dict[str, dict[str, str]]
ROOT = Path(__file__).parents[2]


def _elsewhere(settings: Settings, code: str) -> None:
    """Run `code` in another Python process on the same LAB_HOME (`store`, `users`)."""
    prelude = (
        "from lab.settings import Settings\nfrom lab.store.state import *\n"
        "from lab.access.users import *\n"
        "store = StateStore.open(Settings())\nusers = UserStore(store)\n"
    )
    env = {**os.environ, "LAB_HOME": str(settings.home), "LAB_PREFIX": settings.prefix}
    subprocess.run([sys.executable, "-c", prelude + code], env=env, check=True, cwd=ROOT)


def _names(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/v1/labs", headers=headers)
    assert response.status_code == 200, response.text
    return [lab["name"] for lab in response.json()]


def test_labs_written_by_another_process_show_at_once(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    admin = headers["admin"]
    assert _names(client, admin) == ["c1-01", "c1-02", "mine", "other"]
    assert client.get("/api/v1/labs/other", headers=admin).json()["status"] == "running"

    _elsewhere(settings, "store.add_lab(store.get_lab('other').model_copy(update={'name': 'new'}))")
    assert _names(client, admin) == ["c1-01", "c1-02", "mine", "new", "other"]
    assert client.get("/api/v1/labs/new", headers=admin).status_code == 200

    code = "store.update_lab(store.get_lab('other').model_copy(update={'status': 'stopped'}))"
    _elsewhere(settings, code)
    assert client.get("/api/v1/labs/other", headers=admin).json()["status"] == "stopped"
    listed = client.get("/api/v1/labs", headers=admin).json()
    assert [lab["status"] for lab in listed if lab["name"] == "other"] == ["stopped"]

    _elsewhere(settings, "store.delete_lab('other')")
    assert "other" not in _names(client, admin)
    assert client.get("/api/v1/labs/other", headers=admin).status_code == 404


def test_a_token_revoked_by_the_cli_is_refused_at_once(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    assert client.get("/api/v1/labs", headers=headers["engineer"]).status_code == 200
    env = {**os.environ, "LAB_HOME": str(settings.home)}
    subprocess.run(
        [sys.executable, "-m", "lab.cli", "token", "revoke", "engineer"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    for path in ("/api/v1/labs", "/api/v1/labs/other", "/api/v1/me"):
        assert client.get(path, headers=headers["engineer"]).status_code == 401, path
    assert client.get("/api/v1/labs", headers=headers["admin"]).status_code == 200


def test_assignments_made_elsewhere_count_at_once(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    trainee, trainer = headers["trainee"], headers["trainer"]
    assert _names(client, trainee) == ["c1-01"]
    assert client.get("/api/v1/labs/other", headers=trainee).status_code == 403
    _elsewhere(settings, "users.assign('trainee', AssignmentKind.LAB, 'other')")
    assert _names(client, trainee) == ["c1-01", "other"]
    assert client.get("/api/v1/labs/other", headers=trainee).status_code == 200

    # a trainer sees their classes' seats: a class changed elsewhere changes them
    assert _names(client, trainer) == ["c1-01", "c1-02"]
    code = (
        "k = store.get_class('c1'); store.delete_class('c1')\n"
        "store.add_class(k.model_copy(update={'seats': ('c1-01', 'mine')}))"
    )
    _elsewhere(settings, code)
    assert _names(client, trainer) == ["c1-01", "mine"]
    assert client.get("/api/v1/labs/c1-02", headers=trainer).status_code == 403


def test_the_rendered_json_is_fastapis(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    records = StateStore.open(settings).list_labs()
    expected = TypeAdapter(list[LabPublic]).dump_json([LabPublic.of(r) for r in records])
    for role in ("admin", "trainer"):  # answered on the event loop; in a worker thread
        response = client.get("/api/v1/labs", headers=headers[role])
        assert response.headers["content-type"] == "application/json"
        if role == "admin":
            assert response.content == expected
    one = client.get("/api/v1/labs/mine", headers=headers["admin"])
    assert one.content == LabPublic.of(records[2]).model_dump_json().encode()
    assert records[2].name == "mine" and records[2].status is LabStatus.RUNNING
