"""A tester's whole flow through the API against a real TCG guest: a throw-away lab,
software under test applied, the verification suite run, JUnit fetched, the lab dropped."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab.access.users import Role, UserStore
from lab.labs import guest, lifecycle
from lab.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def _wait(client: TestClient, location: str, headers: dict[str, str], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        op = client.get(location, headers=headers).json()
        if op["status"] in ("succeeded", "failed", "canceled"):
            return op
        time.sleep(1)
    raise AssertionError(f"operation {location} still running after {seconds} s")


def test_tester_flow_end_to_end(settings: Settings, build_deb: Callable[[str, str], Path]) -> None:
    users = UserStore.open(settings)
    users.add("qa", Role.TESTER)
    headers = {"Authorization": f"Bearer {users.create_token('qa')}"}
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/labs", json={"profile": "tiny", "name": "tf1"}, headers=headers)
        assert r.status_code == 202, r.text
        op = _wait(client, r.headers["Location"], headers, 600)
        assert op["status"] == "succeeded", (op["error"], op["hint"])

        r = client.post(
            "/api/v1/labs/tf1/apply",
            params={"kind": "package", "filename": "cnap-client_2.1_all.deb"},
            content=build_deb("cnap-client", "2.1").read_bytes(),
            headers=headers,
        )
        assert r.status_code == 202, r.text
        op = _wait(client, r.headers["Location"], headers, 300)
        assert op["status"] == "succeeded", (op["error"], op["hint"])
        assert sum(op["result"]["changed"].values()) >= 1
        got = lifecycle.guest_address(settings, "tf1", "m1")

        assert guest.run(got, "cat /usr/share/cnap-client/VERSION", timeout=60).stdout == "2.1\n"

        r = client.post("/api/v1/labs/tf1/test", headers=headers)
        assert r.status_code == 202, r.text
        op = _wait(client, r.headers["Location"], headers, 300)
        assert op["status"] == "succeeded" and op["result"]["passed"] is True, op

        junit = client.get("/api/v1/labs/tf1/tests/latest/junit", headers=headers)
        assert junit.status_code == 200
        assert junit.headers["content-type"].startswith("application/xml")
        cases = list(ET.fromstring(junit.content).iter("testcase"))
        assert cases and all(c.find("failure") is None for c in cases)

        r = client.delete("/api/v1/labs/tf1", headers=headers)
        assert r.status_code == 202
        assert _wait(client, r.headers["Location"], headers, 120)["status"] == "succeeded"
        listed = client.get("/api/v1/labs", headers=headers).json()
        assert all(lab["name"] != "tf1" for lab in listed)
    assert all(lab.name != "tf1" for lab in lifecycle.list_labs(settings))
