"""The role matrix: every operation of the API × every kind of caller, as a table.

Callers: no token (`-`), a token nobody holds (`bad`), and a user of each role. The
users' scope (tests/api/conftest.py `tokens`): the trainee has seat `c1-01`, the tester
their lab `mine`, the trainer class `c1` (seats c1-01, c1-02); class `c2` (seat
`other`) and lab `other` are nobody's. Operations that start work answer 202 and are
recorded, never run (no use case runs here: the table is about who may ask).

A test checks that the table covers every route the app serves, so a new route cannot
go without a row. The console websockets are admitted by a ticket from
`console-ticket` (a row here) and are tested in tests/api/test_consoles*.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes import courses as course_routes
from lab.classes.records import ClassRecord
from lab.classes.schedules import ScheduleStore
from lab.courses.results import ResultsStore
from lab.operations.runner import Runner
from lab.operations.store import OperationStore, OpStatus
from lab.settings import Settings
from lab.store.state import StateStore, now
from tests.api.conftest import PROFILES, users_and_labs
from tests.api.test_auth import _routes
from tests.course_fakes import course_settings, install_fakes
from tests.template_fakes import install_template_fakes

CALLERS = ("-", "bad", "trainee", "tester", "trainer", "engineer", "admin")
LAB_OPS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/labs/{lab}", None),
    ("GET", "/api/v1/labs/{lab}/status", None),
    ("GET", "/api/v1/labs/{lab}/resets", None),
    ("POST", "/api/v1/labs/{lab}/power", {"action": "stop"}),
    ("POST", "/api/v1/labs/{lab}/reset", None),
    ("POST", "/api/v1/labs/{lab}/baseline", None),
    ("POST", "/api/v1/labs/{lab}/checkpoints", {"name": "t1"}),
    ("GET", "/api/v1/labs/{lab}/checkpoints", None),
    ("GET", "/api/v1/labs/{lab}/topology", None),
    ("GET", "/api/v1/labs/{lab}/baseline", None),
    ("DELETE", "/api/v1/labs/{lab}/checkpoints/t1", None),
    ("POST", "/api/v1/labs/{lab}/provision", None),
    ("POST", "/api/v1/labs/{lab}/apply?kind=playbook&filename=p.yml", b"- hosts: all\n"),
    ("POST", "/api/v1/labs/{lab}/test", None),
    ("GET", "/api/v1/labs/{lab}/tests/latest", None),
    ("GET", "/api/v1/labs/{lab}/tests/latest/junit", None),
    ("POST", "/api/v1/labs/{lab}/machines/m1/console-ticket", None),
    ("GET", "/api/v1/labs/{lab}/course", None),
    ("POST", "/api/v1/labs/{lab}/course/check", None),
    ("POST", "/api/v1/labs/{lab}/course/hint", None),
    ("POST", "/api/v1/labs/{lab}/course/restart", None),
    ("DELETE", "/api/v1/labs/{lab}", None),
]
# Expected status per caller, in the order of CALLERS, for a lab op on each lab.
# c1-01: the trainee's seat, in the trainer's class; mine: the tester's; other: nobody's.
LAB_EXPECTED = {
    # op                     c1-01 (- bad trainee tester trainer engineer admin)
    "GET /{lab}": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 200 403 200 200",
        "other": "401 401 403 403 403 200 200",
    },
    "GET /{lab}/status": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 200 403 200 200",
        "other": "401 401 403 403 403 200 200",
    },
    "GET /{lab}/topology": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 200 403 200 200",
        "other": "401 401 403 403 403 200 200",
    },
    "GET /{lab}/baseline": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 200 403 200 200",
        "other": "401 401 403 403 403 200 200",
    },
    "GET /{lab}/resets": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 200 403 200 200",
        "other": "401 401 403 403 403 200 200",
    },
    "POST /{lab}/power": {
        "c1-01": "401 401 202 403 403 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    "POST /{lab}/reset": {
        "c1-01": "401 401 202 403 202 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    "POST /{lab}/baseline": {
        "c1-01": "401 401 403 403 202 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    "POST /{lab}/checkpoints": {
        "c1-01": "401 401 403 403 202 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    "GET /{lab}/checkpoints": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 200 403 200 200",
        "other": "401 401 403 403 403 200 200",
    },
    # 404: allowed, and the lab has no checkpoint t1
    "DELETE /{lab}/checkpoints/t1": {
        "c1-01": "401 401 403 403 404 404 404",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "POST /{lab}/provision": {
        "c1-01": "401 401 403 403 403 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    "POST /{lab}/apply": {
        "c1-01": "401 401 403 403 403 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    "POST /{lab}/test": {
        "c1-01": "401 401 403 403 403 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
    # 404: allowed, and the lab has not been tested yet
    "GET /{lab}/tests/latest": {
        "c1-01": "401 401 403 403 403 404 404",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "GET /{lab}/tests/latest/junit": {
        "c1-01": "401 401 403 403 403 404 404",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "POST /{lab}/machines/m1/console-ticket": {
        "c1-01": "401 401 201 403 201 201 201",
        "mine": "401 401 403 201 403 201 201",
        "other": "401 401 403 403 403 201 201",
    },
    # Class c1 runs a course; mine and other are no seat of one (404 when allowed).
    "GET /{lab}/course": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "POST /{lab}/course/check": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "POST /{lab}/course/hint": {
        "c1-01": "401 401 200 403 200 200 200",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "POST /{lab}/course/restart": {
        "c1-01": "401 401 202 403 202 202 202",
        "mine": "401 401 403 404 403 404 404",
        "other": "401 401 403 403 403 404 404",
    },
    "DELETE /{lab}": {
        "c1-01": "401 401 403 403 403 202 202",
        "mine": "401 401 403 202 403 202 202",
        "other": "401 401 403 403 403 202 202",
    },
}
CLASS_OPS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/classes/{klass}", None),
    ("GET", "/api/v1/classes/{klass}/status", None),
    ("POST", "/api/v1/classes/{klass}/reset", None),
    ("POST", "/api/v1/classes/{klass}/baseline", None),
    ("POST", "/api/v1/classes/{klass}/checkpoints", {"name": "t1"}),
    ("POST", "/api/v1/classes/{klass}/schedules", {"at": "FUTURE"}),
    ("GET", "/api/v1/classes/{klass}/schedules", None),
    ("DELETE", "/api/v1/classes/{klass}/schedules/SCHEDULE", None),
    ("POST", "/api/v1/classes/{klass}/access-sheet", None),
    ("POST", "/api/v1/classes/{klass}/access-sheet/pdf", "SHEET"),
    ("GET", "/api/v1/classes/{klass}/board", None),
    ("GET", "/api/v1/classes/{klass}/board/events", None),
    ("GET", "/api/v1/classes/{klass}/results.csv", None),
    ("GET", "/api/v1/classes/{klass}/results.pdf?lang=en", None),
    ("DELETE", "/api/v1/classes/{klass}", None),
]
# c1: the trainer's class; c2: nobody's.
CLASS_EXPECTED = {
    "GET /{klass}": {"c1": "401 401 403 403 200 200 200", "c2": "401 401 403 403 403 200 200"},
    "GET /{klass}/status": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 200 200",
    },
    "POST /{klass}/reset": {
        "c1": "401 401 403 403 202 202 202",
        "c2": "401 401 403 403 403 202 202",
    },
    "POST /{klass}/baseline": {
        "c1": "401 401 403 403 202 202 202",
        "c2": "401 401 403 403 403 202 202",
    },
    "POST /{klass}/checkpoints": {
        "c1": "401 401 403 403 202 202 202",
        "c2": "401 401 403 403 403 202 202",
    },
    "POST /{klass}/schedules": {
        "c1": "401 401 403 403 201 201 201",
        "c2": "401 401 403 403 403 201 201",
    },
    "GET /{klass}/schedules": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 200 200",
    },
    "DELETE /{klass}/schedules/SCHEDULE": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 200 200",
    },
    "POST /{klass}/access-sheet": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 200 200",
    },
    "POST /{klass}/access-sheet/pdf": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 200 200",
    },
    # c1 runs a course, c2 none (404 when allowed)
    "GET /{klass}/board": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 404 404",
    },
    "GET /{klass}/board/events": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 404 404",
    },
    "GET /{klass}/results.csv": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 404 404",
    },
    "GET /{klass}/results.pdf": {
        "c1": "401 401 403 403 200 200 200",
        "c2": "401 401 403 403 403 404 404",
    },
    "DELETE /{klass}": {  # a trainer deletes their class at the end of term
        "c1": "401 401 403 403 202 202 202",
        "c2": "401 401 403 403 403 202 202",
    },
}
# Operations not on one lab or class. OP is an operation the tester started.
OTHER: list[tuple[str, str, Any, str]] = [
    ("GET", "/", None, "200 200 200 200 200 200 200"),
    ("GET", "/healthz", None, "200 200 200 200 200 200 200"),
    ("GET", "/openapi.json", None, "200 200 200 200 200 200 200"),
    ("POST", "/api/v1/login", {"name": "x", "password": "wrong-password"}, "401 " * 7),
    ("POST", "/api/v1/logout", None, "401 401 204 204 204 204 204"),
    ("GET", "/api/v1/me", None, "401 401 200 200 200 200 200"),
    ("GET", "/metrics", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/host", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/hosts", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/audit", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/images", None, "401 401 403 200 403 200 200"),
    # 404 for staff: allowed, and no such file in the import directory
    ("POST", "/api/v1/images/import", {"file": "x.ova"}, "401 401 403 403 403 404 404"),
    ("DELETE", "/api/v1/images/nothing", None, "401 401 403 403 403 404 404"),
    ("POST", "/api/v1/images/prune?dry_run=true", None, "401 401 403 403 403 200 200"),
    # Templates (faked: t1 is used by labs, t2 by none): staff make and delete them, a
    # tester reads them and clones labs from them.
    ("GET", "/api/v1/templates", None, "401 401 403 200 403 200 200"),
    ("GET", "/api/v1/templates/t1", None, "401 401 403 200 403 200 200"),
    ("POST", "/api/v1/templates", {"lab": "other", "name": "t3"}, "401 401 403 403 403 202 202"),
    # 409 for staff: allowed, and the template is in use
    ("DELETE", "/api/v1/templates/t1", None, "401 401 403 403 403 409 409"),
    ("POST", "/api/v1/labs", {"template": "t1", "name": "n2"}, "401 401 403 202 403 202 202"),
    ("GET", "/api/v1/profiles", None, "401 401 403 200 403 200 200"),
    # The software catalogue of the sample profiles (profiles/): staff only, read-only.
    ("GET", "/api/v1/catalogue", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/catalogue/products/Samba", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/catalogue/permissions", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/catalogue/formats", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/catalogue/export.csv", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/catalogue/unification", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/catalogue/unification.pdf", None, "401 401 403 403 403 200 200"),
    ("GET", "/api/v1/profiles/tiny", None, "401 401 403 200 403 200 200"),
    ("GET", "/api/v1/profiles/tiny/preview", None, "401 401 403 200 403 200 200"),
    ("POST", "/api/v1/profiles/validate", b"community: {}\n", "401 401 403 422 403 422 422"),
    ("GET", "/api/v1/labs", None, "401 401 200 200 200 200 200"),
    ("POST", "/api/v1/labs", {"profile": "tiny", "name": "n1"}, "401 401 403 202 403 202 202"),
    ("GET", "/api/v1/classes", None, "401 401 403 403 200 200 200"),
    ("GET", "/api/v1/class-sources", None, "401 401 403 403 200 200 200"),
    ("GET", "/api/v1/courses", None, "401 401 403 403 200 200 200"),
    ("GET", "/api/v1/courses/share", None, "401 401 403 403 200 200 200"),
    (
        "POST",
        "/api/v1/classes",
        {"profile": "tiny", "name": "c3", "seats": 1},
        "401 401 403 403 202 202 202",  # a trainer's class is theirs at once
    ),
    ("GET", "/api/v1/operations", None, "401 401 200 200 200 200 200"),
    ("GET", "/api/v1/operations/OP", None, "401 401 403 200 403 200 200"),
    ("POST", "/api/v1/operations/OP/cancel", None, "401 401 403 409 403 409 409"),
    ("GET", "/api/v1/operations/OP/events", None, "401 401 403 200 403 200 200"),
]


def _cells() -> Iterator[tuple[str, str, Any, str, int]]:
    """(method, url, body, caller, expected status) of every cell of the table."""
    for method, path, body in LAB_OPS:
        key = f"{method} {path.removeprefix('/api/v1/labs').split('?')[0]}"
        for lab, row in LAB_EXPECTED[key].items():
            for caller, status in zip(CALLERS, row.split(), strict=True):
                yield method, path.format(lab=lab), body, caller, int(status)
    for method, path, body in CLASS_OPS:
        key = f"{method} {path.removeprefix('/api/v1/classes').split('?')[0]}"
        for klass, row in CLASS_EXPECTED[key].items():
            for caller, status in zip(CALLERS, row.split(), strict=True):
                yield method, path.format(klass=klass), body, caller, int(status)
    for method, path, body, row in OTHER:
        for caller, status in zip(CALLERS, row.split(), strict=True):
            yield method, path, body, caller, int(status)


CELLS = list(_cells())


class World:
    """One app and its state for every cell (a fresh one per cell costs minutes): what a
    cell changes is undone or cannot matter (operations are recorded, never run, and
    ended after each cell; a schedule is made anew for each cell that cancels one)."""

    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.client = client
        self.tokens = tokens
        state = StateStore.open(settings)
        c1 = state.get_class("c1")
        state.delete_class("c1")
        state.add_class(c1.model_copy(update={"course": "share"}))
        self.results = ResultsStore(state)
        self.ops = OperationStore(state)
        self.schedules = ScheduleStore(state)
        state.add_class(
            ClassRecord(
                name="c2",
                profile="tiny",
                profile_path=str(PROFILES / "tiny.yaml"),
                seats=("other",),
                created_at=now(),
            )
        )
        op = self.ops.create("up", "lab/gone", "tester")
        self.ops.finish(op.id, OpStatus.FAILED, error="gone")
        self.op = op.id
        self.future = now() + timedelta(days=30)

    def fill(self, url: str, body: Any) -> tuple[str, Any]:
        """The cell's url and body with its placeholders filled in."""
        klass = next((k for k in ("c1", "c2") if f"/classes/{k}" in url), "")
        url = url.replace("OP", self.op)
        if url.endswith("/course/hint"):
            self.results.delete_class("c1")  # every caller gets the first hint
        if "SCHEDULE" in url:
            made = self.schedules.add(klass, self.future, "admin")
            url = url.replace("SCHEDULE", str(made.id))
        if body == "SHEET":
            body = {
                "class_name": klass,
                "title": "t",
                "made_at": self.future.isoformat(),
                "made_by": "admin",
                "web_url": "http://testserver/",
                "entries": [],
            }
        elif isinstance(body, dict) and body.get("at") == "FUTURE":
            body = {"at": self.future.isoformat()}
        return url, body

    def end_operations(self) -> None:
        for op in self.ops.list_operations(None):
            if op.status in (OpStatus.PENDING, OpStatus.RUNNING):
                self.ops.finish(op.id, OpStatus.CANCELED)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = course_settings(tmp_path_factory.mktemp("matrix"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Runner, "_run", lambda _self, _op, _work: None)
        # A check is answered at once (no guest is asked); a board stream ends after
        # its first event.
        install_fakes(patch).passes = False
        install_template_fakes(patch, settings)
        patch.setattr(course_routes, "STREAM_SECONDS", 0.0)
        tokens = users_and_labs(settings)
        with TestClient(create_app(settings)) as client:
            yield World(settings, client, tokens)


def _auth(caller: str, tokens: dict[str, str]) -> dict[str, str]:
    if caller == "-":
        return {}
    token = "hl_" + "x" * 43 if caller == "bad" else tokens[caller]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("method", "url", "body", "caller", "status"), CELLS)
def test_role_matrix(
    method: str, url: str, body: Any, caller: str, status: int, world: World
) -> None:
    url, body = world.fill(url, body)
    sent: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    client = world.client
    if url == "/api/v1/login":  # a fresh app: no failed login before it counts
        client = TestClient(create_app(world.settings))
    try:
        answer = client.request(method, url, headers=_auth(caller, world.tokens), **sent)
    finally:
        world.end_operations()
    assert answer.status_code == status, answer.text[:300]
    if status in (401, 403):
        assert answer.json()["hint"]


def test_the_matrix_covers_every_route(app: FastAPI) -> None:
    covered = set()
    for method, url, _, _, _ in CELLS:
        path = url.split("?")[0]
        path = re.sub(r"/labs/(c1-01|mine|other)", "/labs/{name}", path)
        path = re.sub(r"/classes/c[12]", "/classes/{name}", path)
        path = path.replace("/profiles/tiny", "/profiles/{name}")
        path = path.replace("/images/nothing", "/images/{name}")
        path = path.replace("/courses/share", "/courses/{name}")
        path = path.replace("/m1/", "/{machine}/").replace("SCHEDULE", "{schedule_id}")
        path = path.replace("/checkpoints/t1", "/checkpoints/{checkpoint}")
        path = path.replace("/templates/t1", "/templates/{name}")
        path = path.replace("/products/Samba", "/products/{product:path}")
        covered.add((method, path.replace("/OP", "/{op_id}")))
    assert set(_routes(app)) == covered
