"""POST /api/v1/images/import: staff import a file from the server's import directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from lab.settings import Settings
from tests.api.conftest import WaitOp

URL = "/api/v1/images/import"


def drop(settings: Settings, name: str) -> Path:
    settings.drop_dir.mkdir(parents=True, exist_ok=True)
    path = settings.drop_dir / name
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "4M"], check=True)
    return path


def test_staff_import_a_dropped_disk(
    client: TestClient, settings: Settings, headers: dict[str, dict[str, str]], wait_op: WaitOp
) -> None:
    drop(settings, "Web Server.qcow2")
    answer = client.post(URL, json={"file": "Web Server.qcow2"}, headers=headers["engineer"])
    assert answer.status_code == 202, answer.text
    op = wait_op(answer.json()["url"], headers["engineer"])
    assert op["status"] == "succeeded", op
    result = op["result"]
    assert [i["name"] for i in result["images"]] == ["web-server"]
    assert result["images"][0]["virtual_size"] == 4 * 1024**2
    assert result["hints"] is None
    (machine,) = yaml.safe_load(result["stanza"])
    assert machine["image"] == "web-server"
    listed = client.get("/api/v1/images", headers=headers["admin"]).json()
    assert [i["name"] for i in listed] == ["web-server"]


def test_a_damaged_file_fails_the_operation(
    client: TestClient, settings: Settings, headers: dict[str, dict[str, str]], wait_op: WaitOp
) -> None:
    path = drop(settings, "half.qcow2")
    path.write_bytes(b"QFI\xfb" + b"\0" * 100)
    answer = client.post(URL, json={"file": "half.qcow2", "name": "half"}, headers=headers["admin"])
    op = wait_op(answer.json()["url"], headers["admin"])
    assert op["status"] == "failed" and "damaged" in op["error"] and op["hint"]


def test_paths_outside_the_import_directory_are_refused(
    client: TestClient, settings: Settings, headers: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", outside, "4M"], check=True)
    settings.drop_dir.mkdir(parents=True)
    (settings.drop_dir / "link.qcow2").symlink_to(outside)
    for name in ("../../outside.qcow2", str(outside), "link.qcow2", ".", "a\0b"):
        answer = client.post(URL, json={"file": name}, headers=headers["admin"])
        assert answer.status_code == 422, (name, answer.text)
        assert "import directory" in answer.json()["hint"]
    answer = client.post(URL, json={"file": "absent.ova"}, headers=headers["admin"])
    assert answer.status_code == 404


def test_only_staff_may_import(
    client: TestClient, settings: Settings, headers: dict[str, dict[str, str]]
) -> None:
    drop(settings, "a.qcow2")
    for role in ("tester", "trainer", "trainee"):
        answer = client.post(URL, json={"file": "a.qcow2"}, headers=headers[role])
        assert answer.status_code == 403
