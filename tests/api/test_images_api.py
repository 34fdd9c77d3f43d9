"""Images with what uses them, their removal (DELETE) and the prune of old builds (POST
/api/v1/images/prune), over a store of tiny qcow2 disks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lab.images import ImageStore
from lab.settings import Settings

Headers = dict[str, dict[str, str]]


def _import(settings: Settings, tmp_path: Path, name: str, size: str) -> str:
    disk = tmp_path / f"{name}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, size], check=True)
    return ImageStore(settings).import_file(disk, name, lambda _: None).images[0].digest


@pytest.fixture
def images(settings: Settings, tmp_path: Path, tokens: dict[str, str]) -> dict[str, str]:
    """debian-12 (the labs' image: in use), spare (unused), and an old build of spare."""
    old = _import(settings, tmp_path, "spare", "8M")
    found = {"debian-12": _import(settings, tmp_path, "debian-12", "16M")}
    found["spare"] = _import(settings, tmp_path, "newer", "4M")
    store = ImageStore(settings)
    store._point("spare", found["spare"])  # spare rebuilt: its old build stays behind
    store.remove("newer", used_by=[])  # the blob stays: spare points at it
    found["old"] = old
    return found


def test_the_list_says_what_uses_each_image(
    client: TestClient, headers: Headers, images: dict[str, str]
) -> None:
    listed = client.get("/api/v1/images", headers=headers["engineer"]).json()
    used = {i["name"]: i["used_by"] for i in listed}
    assert used == {"debian-12": ["lab c1-01", "lab c1-02", "lab mine", "lab other"], "spare": []}


@pytest.mark.parametrize("role", ["tester", "trainer", "trainee"])
def test_only_staff_remove_or_prune(
    client: TestClient, headers: Headers, images: dict[str, str], settings: Settings, role: str
) -> None:
    assert client.delete("/api/v1/images/spare", headers=headers[role]).status_code == 403
    assert client.post("/api/v1/images/prune", headers=headers[role]).status_code == 403
    assert len(ImageStore(settings).builds()) == 3


def test_an_image_in_use_is_refused_with_its_users(
    client: TestClient, headers: Headers, images: dict[str, str]
) -> None:
    answer = client.delete("/api/v1/images/debian-12", headers=headers["engineer"])
    assert answer.status_code == 409
    assert "lab c1-01" in answer.json()["error"] and "lab down" in answer.json()["hint"]
    assert client.delete("/api/v1/images/nothing", headers=headers["admin"]).status_code == 404


def test_an_unused_image_is_removed(
    client: TestClient, headers: Headers, images: dict[str, str], settings: Settings
) -> None:
    assert client.delete("/api/v1/images/spare", headers=headers["engineer"]).status_code == 204
    names = [i["name"] for i in client.get("/api/v1/images", headers=headers["admin"]).json()]
    assert names == ["debian-12"]
    assert images["spare"] not in ImageStore(settings).builds()


def test_prune_says_then_frees_the_old_builds(
    client: TestClient, headers: Headers, images: dict[str, str], settings: Settings
) -> None:
    url = "/api/v1/images/prune"
    dry = client.post(f"{url}?dry_run=true", headers=headers["engineer"]).json()
    assert dry["dry_run"] is True
    assert [b["digest"] for b in dry["builds"]] == [images["old"]]
    assert dry["bytes_freed"] == dry["builds"][0]["bytes"] > 0
    assert images["old"] in ImageStore(settings).builds()
    done = client.post(url, headers=headers["engineer"]).json()
    assert done["dry_run"] is False and done["bytes_freed"] == dry["bytes_freed"]
    assert set(ImageStore(settings).builds()) == {images["debian-12"], images["spare"]}
    assert client.post(url, headers=headers["admin"]).json()["builds"] == []
