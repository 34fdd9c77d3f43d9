"""The software endpoints' input handling: uploads checked before any work starts."""

from __future__ import annotations

from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]
APPLY = "/api/v1/labs/mine/apply"


def test_apply_refuses_a_package_that_is_not_a_deb(client: TestClient, headers: Headers) -> None:
    r = client.post(
        APPLY,
        params={"kind": "package", "filename": "tool.rpm"},
        content=b"x",
        headers=headers["tester"],
    )
    assert r.status_code == 422 and "not a .deb" in r.json()["error"]


def test_apply_refuses_path_tricks_in_the_file_name(client: TestClient, headers: Headers) -> None:
    for name in ("../../etc/passwd.deb", "a/b.deb", ".hidden.deb", "x" * 200 + ".deb"):
        r = client.post(
            APPLY,
            params={"kind": "package", "filename": name},
            content=b"x",
            headers=headers["tester"],
        )
        assert r.status_code == 422, name


def test_apply_refuses_an_empty_body_and_an_unknown_machine(
    client: TestClient, headers: Headers
) -> None:
    params = {"kind": "package", "filename": "tool_1.0_all.deb"}
    r = client.post(APPLY, params=params, content=b"", headers=headers["tester"])
    assert r.status_code == 422 and r.json()["hint"]
    r = client.post(
        APPLY, params={**params, "machine": "nope"}, content=b"x", headers=headers["tester"]
    )
    assert r.status_code == 404


def test_a_lab_never_tested_has_no_results(client: TestClient, headers: Headers) -> None:
    r = client.get("/api/v1/labs/mine/tests/latest/junit", headers=headers["tester"])
    assert r.status_code == 404 and "not been tested" in r.json()["error"]
