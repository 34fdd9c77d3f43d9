"""The templates' routes, and labs and classes cloned from a template, with the template
use cases faked (tests/template_fakes.py: t1 is used by labs, t2 by none)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from lab.labs.records import VerificationSummary
from lab.settings import Settings
from lab.store.state import StateStore, now
from tests.api.conftest import WaitOp
from tests.template_fakes import TemplateFakes, fake_class_create, install_template_fakes

Headers = dict[str, dict[str, str]]
URL = "/api/v1/templates"


@pytest.fixture
def fakes(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> TemplateFakes:
    return install_template_fakes(monkeypatch, settings)


@pytest.mark.parametrize("role", ["tester", "engineer", "admin"])
def test_staff_and_testers_read_templates(
    client: TestClient, headers: Headers, fakes: TemplateFakes, role: str
) -> None:
    listed = client.get(URL, headers=headers[role])
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()] == ["t1", "t2"]
    one = client.get(f"{URL}/t1", headers=headers[role]).json()
    assert one["source_lab"] == "demo" and one["used_by"] == ["c1-01", "c1-02"]
    assert one["machines"] == ["m1"] and one["memory"] == ["m1"] and one["size"] == 3 * 2**29
    assert client.get(f"{URL}/nope", headers=headers[role]).status_code == 404


@pytest.mark.parametrize("role", ["trainee", "trainer"])
def test_trainees_and_trainers_may_not_see_templates(
    client: TestClient, headers: Headers, fakes: TemplateFakes, role: str
) -> None:
    for answer in (
        client.get(URL, headers=headers[role]),
        client.get(f"{URL}/t1", headers=headers[role]),
        client.post(URL, json={"lab": "other", "name": "t3"}, headers=headers[role]),
        client.delete(f"{URL}/t2", headers=headers[role]),
    ):
        assert answer.status_code == 403 and answer.json()["hint"]
    assert fakes.asked == []


def test_staff_make_a_template_by_an_operation(
    client: TestClient, headers: Headers, fakes: TemplateFakes, wait_op: WaitOp
) -> None:
    answer = client.post(URL, json={"lab": "other", "name": "t3"}, headers=headers["engineer"])
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert (started["kind"], started["target"]) == ("template", "template/t3")
    op = wait_op(started["url"], headers["engineer"])
    assert op["status"] == "succeeded", op
    assert op["result"]["name"] == "t3" and op["result"]["machines"] == ["m1"]
    assert op["result"]["memory"] == ["m1"] and op["result"]["source_lab"] == "other"
    assert ("create", ("other", "t3")) in fakes.asked


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"lab": "nope", "name": "t3"}, 404),  # no such lab
        ({"lab": "other", "name": "t1"}, 409),  # a template of that name exists
        ({"lab": "other", "name": "Bad_Name"}, 422),
        ({"lab": "other"}, 422),
        ({"lab": "other", "name": "t3", "extra": 1}, 422),
    ],
)
def test_a_template_that_cannot_be_made_is_refused_at_once(
    client: TestClient, headers: Headers, fakes: TemplateFakes, body: dict[str, Any], status: int
) -> None:
    answer = client.post(URL, json=body, headers=headers["engineer"])
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    assert not any(kind == "create" for kind, _ in fakes.asked)


def test_testers_may_not_make_or_delete_templates(
    client: TestClient, headers: Headers, fakes: TemplateFakes
) -> None:
    answer = client.post(URL, json={"lab": "mine", "name": "t3"}, headers=headers["tester"])
    assert answer.status_code == 403
    assert client.delete(f"{URL}/t2", headers=headers["tester"]).status_code == 403
    assert fakes.asked == []


def test_delete_a_template_not_while_in_use(
    client: TestClient, headers: Headers, fakes: TemplateFakes
) -> None:
    busy = client.delete(f"{URL}/t1", headers=headers["engineer"])
    assert busy.status_code == 409
    assert "c1-01" in busy.json()["error"] and busy.json()["hint"] == "delete those labs first"
    assert client.delete(f"{URL}/t2", headers=headers["engineer"]).status_code == 204
    assert client.delete(f"{URL}/t2", headers=headers["engineer"]).status_code == 404
    assert [t["name"] for t in client.get(URL, headers=headers["admin"]).json()] == ["t1"]


def test_a_tester_clones_a_lab_from_a_template(
    client: TestClient, headers: Headers, fakes: TemplateFakes, wait_op: WaitOp
) -> None:
    body = {"template": "t1", "name": "n1"}
    answer = client.post("/api/v1/labs", json=body, headers=headers["tester"])
    assert answer.status_code == 202, answer.text
    assert (answer.json()["kind"], answer.json()["target"]) == ("clone", "lab/n1")
    op = wait_op(answer.json()["url"], headers["tester"])
    assert op["status"] == "succeeded", op
    assert op["result"]["name"] == "n1" and op["result"]["template"] == "t1"
    assert fakes.asked == [
        ("check", ("t1", "n1", "tester", "local")),
        ("clone", ("t1", "n1", "tester", "local")),
    ]


def test_a_clone_asked_for_on_a_lab_server_goes_there(
    client: TestClient, headers: Headers, fakes: TemplateFakes, wait_op: WaitOp
) -> None:
    body = {"template": "t1", "name": "n1", "host": "lab2"}
    answer = client.post("/api/v1/labs", json=body, headers=headers["engineer"])
    assert answer.status_code == 202, answer.text
    assert wait_op(answer.json()["url"], headers["engineer"])["status"] == "succeeded"
    assert fakes.asked[0] == ("check", ("t1", "n1", "engineer", "lab2"))
    assert fakes.asked[-1] == ("clone", ("t1", "n1", "engineer", "lab2"))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"template": "nope", "name": "n1"}, 404),  # no such template
        ({"template": "t1", "name": "other"}, 409),  # a lab of that name exists
        ({"template": "t1"}, 422),  # a clone needs a name
        ({"template": "t1", "profile": "tiny", "name": "n1"}, 422),  # not both
        ({"name": "n1"}, 422),  # not neither
        ({"template": "T1", "name": "n1"}, 422),
    ],
)
def test_a_clone_that_cannot_be_made_is_refused_at_once(
    client: TestClient, headers: Headers, fakes: TemplateFakes, body: dict[str, Any], status: int
) -> None:
    answer = client.post("/api/v1/labs", json=body, headers=headers["engineer"])
    assert answer.status_code == status, answer.text
    assert not any(kind == "clone" for kind, _ in fakes.asked)
    if status == 422:
        assert answer.json()["problems"]


def test_a_lab_shows_the_template_it_was_cloned_from(
    client: TestClient, headers: Headers, settings: Settings, fakes: TemplateFakes
) -> None:
    verified = VerificationSummary(passed=True, at=now(), total=1)
    cloned = fakes.clone(settings, "t1", "n1").model_copy(update={"verification": verified})
    StateStore.open(settings).add_lab(cloned)
    lab = client.get("/api/v1/labs/n1", headers=headers["admin"]).json()
    assert lab["template"] == "t1" and lab["verified"] is True
    listed = {
        lab["name"]: lab for lab in client.get("/api/v1/labs", headers=headers["admin"]).json()
    }
    assert listed["n1"]["template"] == "t1" and listed["other"]["template"] is None
    assert listed["other"]["verified"] is None  # not verified yet: no template of it


def test_a_class_cloned_from_a_template(
    client: TestClient,
    headers: Headers,
    fakes: TemplateFakes,
    wait_op: WaitOp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = fake_class_create(monkeypatch)
    body = {"template": "t1", "name": "k", "seats": 1}
    answer = client.post("/api/v1/classes", json=body, headers=headers["engineer"])
    assert answer.status_code == 202, answer.text
    op = wait_op(answer.json()["url"], headers["engineer"])
    assert op["status"] == "succeeded", op
    assert asked == [(None, "k", 1, {"course": None, "template": "t1", "trainer": None})]
    for wrong, status in (
        ({"template": "nope", "name": "k2", "seats": 1}, 404),
        ({"template": "t1", "profile": "tiny", "name": "k2", "seats": 1}, 422),
        ({"name": "k2", "seats": 1}, 422),
    ):
        answer = client.post("/api/v1/classes", json=wrong, headers=headers["engineer"])
        assert answer.status_code == status, answer.text
    assert len(asked) == 1
