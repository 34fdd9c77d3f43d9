"""The error envelope, and profiles: the catalogue and validation of uploads."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import ForbiddenError, UnauthorizedError, status_of
from lab.errors import ConflictError, HostError, InvalidError, LabError, NotFoundError

Headers = dict[str, dict[str, str]]
PROFILES = Path(__file__).parents[2] / "profiles"


def test_status_of_each_error() -> None:
    assert status_of(UnauthorizedError("x")) == 401
    assert status_of(ForbiddenError("x")) == 403
    assert status_of(NotFoundError("x")) == 404
    assert status_of(ConflictError("x")) == 409
    assert status_of(InvalidError("x")) == 422
    assert status_of(HostError("x")) == 500
    assert status_of(LabError("x")) == 500


def test_unknown_lab_is_404_in_the_envelope(client: TestClient, headers: Headers) -> None:
    response = client.get("/api/v1/labs/nope", headers=headers["admin"])
    assert response.status_code == 404
    assert response.json() == {
        "error": "no lab named 'nope'",
        "hint": "`lab list` shows the labs that exist",
        "problems": [],
    }


def test_unknown_route_is_404_in_the_envelope(client: TestClient, headers: Headers) -> None:
    response = client.get("/api/v1/nothing", headers=headers["admin"])
    assert response.status_code == 404
    assert set(response.json()) == {"error", "hint", "problems"}


def test_bad_bodies_are_422_never_500(client: TestClient, headers: Headers) -> None:
    for body in (
        {"profile": "tiny", "extra": 1},
        {"profile": "../../etc/passwd"},
        {"profile": "tiny", "name": "Not A Name"},
        {},
        [1, 2],
        "text",
    ):
        response = client.post("/api/v1/labs", json=body, headers=headers["admin"])
        assert response.status_code == 422, (body, response.text)
        data = response.json()
        assert data["error"] == "invalid request"
        assert data["problems"], body
    response = client.post(
        "/api/v1/labs",
        content=b"{not json",
        headers={**headers["admin"], "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_unknown_profile_is_404_and_taken_name_409(client: TestClient, headers: Headers) -> None:
    response = client.post("/api/v1/labs", json={"profile": "nope"}, headers=headers["admin"])
    assert response.status_code == 404
    response = client.post(
        "/api/v1/labs", json={"profile": "tiny", "name": "mine"}, headers=headers["admin"]
    )
    assert response.status_code == 409


def test_catalogue(client: TestClient, headers: Headers) -> None:
    listed = client.get("/api/v1/profiles", headers=headers["engineer"]).json()
    names = [p["name"] for p in listed]
    assert "tiny" in names and "_common" not in names
    assert all(p["valid"] for p in listed)
    tiny = client.get("/api/v1/profiles/tiny", headers=headers["engineer"]).json()
    assert tiny["community"]["name"] == "tiny"
    # A profile's software list and its recommended mark come with it.
    stack = client.get("/api/v1/profiles/recommended-stack", headers=headers["engineer"]).json()
    assert stack["recommended"] is True
    software = {s["product"]: s for m in stack["machines"] for s in m.get("software", [])}
    assert software["АСКОД"]["kind"] == "document-flow"
    assert software["АСКОД"]["permission"]["state"] == "granted"
    assert "docx" in software["АСКОД"]["formats"]["reads"]


def test_validate_a_good_profile(client: TestClient, headers: Headers) -> None:
    with open(PROFILES / "tiny.yaml", "rb") as f:
        text = f.read()
    response = client.post(
        "/api/v1/profiles/validate",
        content=text,
        headers={**headers["engineer"], "Content-Type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "valid": True,
        "community": "tiny",
        "title": "Найменша лабораторія (тести)",
        "machines": 1,
    }


def test_validate_a_profile_extending_the_catalogue(client: TestClient, headers: Headers) -> None:
    with open(PROFILES / "rural-hromada.yaml", "rb") as f:
        text = f.read()
    response = client.post("/api/v1/profiles/validate", content=text, headers=headers["engineer"])
    assert response.status_code == 200, response.text


def test_validate_a_broken_profile_locates_problems(client: TestClient, headers: Headers) -> None:
    text = b"community:\n  name: x\nmachines:\n  - name: m1\n    vcpus: lots\n"
    response = client.post("/api/v1/profiles/validate", content=text, headers=headers["engineer"])
    assert response.status_code == 422
    data = response.json()
    assert data["error"].startswith("invalid profile upload.yaml")
    assert data["hint"]
    vcpus = [p for p in data["problems"] if p["path"] == "machines[0].vcpus"]
    assert vcpus and vcpus[0]["line"] == 5 and vcpus[0]["file"] == "upload.yaml"


def test_validate_refuses_extends_outside_the_catalogue(
    client: TestClient, headers: Headers
) -> None:
    text = b"extends: ../../../etc/passwd\ncommunity: {name: x}\n"
    response = client.post("/api/v1/profiles/validate", content=text, headers=headers["engineer"])
    assert response.status_code == 422
    assert "not allowed" in response.text
    assert "root:" not in response.text


def test_validate_garbage_is_422(client: TestClient, headers: Headers) -> None:
    for text in (b"", b"\xff\xfe", b"[unclosed", b"- a list\n"):
        response = client.post(
            "/api/v1/profiles/validate", content=text, headers=headers["engineer"]
        )
        assert response.status_code == 422, (text, response.text)
    huge = b"#" * (2 << 20)  # over the body limit: refused before it is read
    response = client.post("/api/v1/profiles/validate", content=huge, headers=headers["engineer"])
    assert response.status_code == 413 and response.json()["error"].startswith("the request body")


def test_a_real_failure_is_500_in_the_envelope(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    @app.get("/host")
    def host() -> None:
        raise HostError("libvirtd is not running", hint="start it")

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal error",
        "hint": "the server log has the details",
        "problems": [],
    }
    response = client.get("/host")
    assert response.status_code == 500
    assert response.json()["hint"] == "start it"
