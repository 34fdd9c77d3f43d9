"""Authentication (401), roles and assignments (403), and which routes are public."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from api.auth import PUBLIC

Headers = dict[str, dict[str, str]]


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD aside."""
    found = []
    for context in iter_route_contexts(app.routes):
        methods = getattr(context.original_route, "methods", None) or set()
        assert context.path is not None
        found += [(m, context.path) for m in sorted(methods) if m != "HEAD"]
    return found


def test_every_route_but_the_public_ones_needs_a_token(app: FastAPI, client: TestClient) -> None:
    routes = _routes(app)
    assert len(routes) > 25
    public = {path for _, path in routes if path in PUBLIC}
    assert public == {
        *("/healthz", "/openapi.json"),
        *("/", "/api/v1/login"),  # the web page, and its login (a body is needed: 422)
    }
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "x1", path)
        response = client.request(method, url)
        if path in PUBLIC:
            assert response.status_code == (422 if method == "POST" else 200), (method, path)
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert set(response.json()) == {"error", "hint", "problems"}


def test_an_unknown_token_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/labs", headers={"Authorization": "Bearer hl_nope"})
    assert response.status_code == 401
    assert response.json()["error"] == "the token is not valid"


def test_tokens_identify_users(client: TestClient, headers: Headers) -> None:
    me = client.get("/api/v1/me", headers=headers["trainee"]).json()
    assert me == {"name": "trainee", "role": "trainee", "labs": ["c1-01"], "classes": []}


# (role, method, path, json body, expected status): one representative endpoint of each
# resource, inside and outside the role's scope. 202s start operations that fail later
# (there are no images), which is fine here.
CASES = [
    ("engineer", "GET", "/api/v1/images", None, 200),
    ("tester", "GET", "/api/v1/images", None, 200),
    ("trainer", "GET", "/api/v1/images", None, 403),
    ("trainee", "GET", "/api/v1/images", None, 403),
    ("engineer", "GET", "/api/v1/profiles", None, 200),
    ("trainee", "GET", "/api/v1/profiles", None, 403),
    ("trainer", "POST", "/api/v1/labs", {"profile": "tiny", "name": "t1"}, 403),
    ("trainee", "POST", "/api/v1/labs", {"profile": "tiny", "name": "t1"}, 403),
    ("tester", "POST", "/api/v1/labs", {"profile": "tiny", "name": "t2"}, 202),
    ("trainee", "GET", "/api/v1/labs/c1-01", None, 200),
    ("trainee", "GET", "/api/v1/labs/c1-02", None, 403),
    ("trainee", "DELETE", "/api/v1/labs/c1-01", None, 403),
    ("tester", "GET", "/api/v1/labs/mine", None, 200),
    ("tester", "GET", "/api/v1/labs/other", None, 403),
    ("tester", "DELETE", "/api/v1/labs/other", None, 403),
    ("trainer", "GET", "/api/v1/labs/c1-02", None, 200),
    ("trainer", "GET", "/api/v1/labs/mine", None, 403),
    ("trainer", "DELETE", "/api/v1/labs/c1-02", None, 403),
    ("trainer", "GET", "/api/v1/classes/c1", None, 200),
    ("trainee", "GET", "/api/v1/classes/c1", None, 403),
    ("tester", "GET", "/api/v1/classes", None, 403),
    ("trainer", "POST", "/api/v1/classes", {"profile": "tiny", "name": "c2", "seats": 1}, 202),
    ("trainer", "DELETE", "/api/v1/classes/c1", None, 202),
    ("engineer", "GET", "/api/v1/audit", None, 200),
    ("tester", "GET", "/api/v1/audit", None, 403),
    ("tester", "POST", "/api/v1/labs/mine/test", None, 202),
    ("tester", "POST", "/api/v1/labs/other/test", None, 403),
    ("tester", "POST", "/api/v1/labs/mine/provision", None, 202),
    ("trainee", "POST", "/api/v1/labs/c1-01/provision", None, 403),
    ("trainee", "POST", "/api/v1/labs/c1-01/test", None, 403),
    ("trainer", "POST", "/api/v1/labs/c1-01/provision", None, 403),
    ("trainee", "GET", "/api/v1/labs/c1-01/tests/latest", None, 403),
    ("tester", "GET", "/api/v1/labs/mine/tests/latest", None, 404),
    ("trainer", "GET", "/metrics", None, 403),
    ("engineer", "GET", "/metrics", None, 200),
]


@pytest.mark.parametrize(("role", "method", "path", "body", "status"), CASES)
def test_roles(
    client: TestClient,
    headers: Headers,
    role: str,
    method: str,
    path: str,
    body: object,
    status: int,
) -> None:
    response = client.request(method, path, json=body, headers=headers[role])
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["hint"]


def test_lists_show_only_what_is_in_scope(client: TestClient, headers: Headers) -> None:
    def labs(role: str) -> list[str]:
        return [lab["name"] for lab in client.get("/api/v1/labs", headers=headers[role]).json()]

    assert labs("admin") == ["c1-01", "c1-02", "mine", "other"]
    assert labs("trainee") == ["c1-01"]
    assert labs("tester") == ["mine"]
    assert labs("trainer") == ["c1-01", "c1-02"]


def test_a_testers_new_lab_operation_is_theirs(client: TestClient, headers: Headers) -> None:
    """The operation is theirs at once; the lab only once it is up (test_ownership.py)."""
    created = client.post(
        "/api/v1/labs", json={"profile": "tiny", "name": "t3"}, headers=headers["tester"]
    )
    assert created.status_code == 202
    url = created.json()["url"]
    assert client.get(url, headers=headers["tester"]).status_code == 200
    assert client.get(url, headers=headers["trainee"]).status_code == 403
