"""A profile's preview (GET /api/v1/profiles/NAME/preview) and a lab's topology
(GET /api/v1/labs/NAME/topology): what they say, who may read them, no secret in them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab.settings import Settings
from tests.api.conftest import PROFILES, users_and_labs

Client = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture
def preview_client(tmp_path: Path) -> Iterator[Client]:
    folder = tmp_path / "profiles"
    shutil.copytree(PROFILES, folder)
    (folder / "broken.yaml").write_text("community:\n  name: broken\nmachines: 3\n")
    settings = Settings(
        home=tmp_path / "home", libvirt_uri="test:///default", profiles_dir=folder, prefix="hlt-"
    )
    tokens = users_and_labs(settings)
    with TestClient(create_app(settings)) as client:
        yield client, {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


def test_a_preview_says_what_a_lab_would_be(preview_client: Client) -> None:
    client, headers = preview_client
    answer = client.get("/api/v1/profiles/city-hromada/preview", headers=headers["engineer"])
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["profile"] == "city-hromada"
    assert set(data) == set(
        [
            "profile",
            "community",
            "title",
            "machines",
            "networks",
            "accounts",
            "tests",
            "software",
            "topology",
        ]
    )
    assert len(data["networks"]) == 2
    machine = data["machines"][0]
    assert {"name", "image", "memory_mib", "vcpus", "roles", "appliance", "addresses"} <= set(
        machine
    )
    assert data["accounts"] and set(data["accounts"][0]) == {"name", "kind", "groups"}
    assert data["tests"] and data["tests"][0]["kind"] in ("run", "probe")
    topology = data["topology"]
    assert [m["name"] for m in topology["machines"]] == [m["name"] for m in data["machines"]]
    nets = {n["name"] for n in topology["networks"]}
    assert {a["network"] for m in topology["machines"] for a in m["addresses"]} <= nets


def test_a_preview_carries_no_secret(preview_client: Client) -> None:
    client, headers = preview_client
    for name in ("own-machines", "city-hromada"):
        text = client.get(f"/api/v1/profiles/{name}/preview", headers=headers["admin"]).text
        assert "password" not in text.lower()
        profile = (PROFILES / f"{name}.yaml").read_text()
        if "docflow-admin" in profile:  # an appliance's login password in the profile
            assert "docflow-admin" not in text
    appliances = client.get("/api/v1/profiles/own-machines/preview", headers=headers["admin"])
    assert any(m["appliance"] for m in appliances.json()["machines"])


def test_unknown_invalid_and_refused(preview_client: Client) -> None:
    client, headers = preview_client
    missing = client.get("/api/v1/profiles/nosuch/preview", headers=headers["engineer"])
    assert missing.status_code == 404 and missing.json()["hint"]
    broken = client.get("/api/v1/profiles/broken/preview", headers=headers["engineer"])
    assert broken.status_code == 422 and broken.json()["error"]
    for role in ("trainee", "trainer"):
        refused = client.get("/api/v1/profiles/pair/preview", headers=headers[role])
        assert refused.status_code == 403
    assert client.get("/api/v1/profiles/pair/preview", headers=headers["tester"]).status_code == 200
    assert client.get("/api/v1/profiles/pair/preview").status_code == 401


def test_a_labs_topology_as_its_readers_may(preview_client: Client) -> None:
    client, headers = preview_client
    answer = client.get("/api/v1/labs/mine/topology", headers=headers["tester"])
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["lab"] == "mine" and data["profile"] == "tiny"
    assert data["machines"] and data["machines"][0]["management_address"].startswith("10.250.")
    assert client.get("/api/v1/labs/other/topology", headers=headers["tester"]).status_code == 403
    assert client.get("/api/v1/labs/mine/topology", headers=headers["trainee"]).status_code == 403
    own = client.get("/api/v1/labs/c1-01/topology", headers=headers["trainee"])
    assert own.status_code == 200
    assert client.get("/api/v1/labs/nosuch/topology", headers=headers["admin"]).status_code == 404


def test_a_labs_baseline_time(preview_client: Client) -> None:
    client, headers = preview_client
    answer = client.get("/api/v1/labs/mine/baseline", headers=headers["tester"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"lab": "mine", "created_at": None}
    assert client.get("/api/v1/labs/other/baseline", headers=headers["tester"]).status_code == 403
    assert client.get("/api/v1/labs/nosuch/baseline", headers=headers["admin"]).status_code == 404
