"""Labs against libvirt's test driver: live status, resets, and a delete that succeeds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]
WaitOp = Callable[[str, dict[str, str]], dict[str, Any]]


def test_get_a_lab(client: TestClient, headers: Headers) -> None:
    lab = client.get("/api/v1/labs/mine", headers=headers["tester"]).json()
    assert lab["name"] == "mine" and lab["status"] == "running"
    assert [m["name"] for m in lab["machines"]] == ["m1"]
    assert lab["machines"][0]["domain"] == "hlt-mine.m1"


def test_live_status_of_a_lab_whose_domains_are_gone(client: TestClient, headers: Headers) -> None:
    response = client.get("/api/v1/labs/other/status", headers=headers["engineer"])
    assert response.status_code == 200, response.text
    machine = response.json()["machines"][0]
    assert machine["state"] == "missing" and not machine["reachable"]


def test_resets_of_a_lab(client: TestClient, headers: Headers) -> None:
    assert client.get("/api/v1/labs/other/resets", headers=headers["admin"]).json() == []
    assert client.get("/api/v1/labs/nope/resets", headers=headers["admin"]).status_code == 404


def test_delete_a_lab_succeeds_and_drops_its_owner(
    client: TestClient, headers: Headers, wait_op: WaitOp
) -> None:
    response = client.delete("/api/v1/labs/mine", headers=headers["tester"])
    assert response.status_code == 202
    done = wait_op(response.json()["url"], headers["tester"])
    assert done["status"] == "succeeded", done
    assert client.get("/api/v1/labs/mine", headers=headers["admin"]).status_code == 404
    assert "mine" not in client.get("/api/v1/me", headers=headers["tester"]).json()["labs"]
