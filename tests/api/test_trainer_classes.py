"""A trainer makes a class (it is theirs at once) and deletes it at the end of term; not
another trainer's."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from lab.access.users import Role, UserStore
from lab.labs import lifecycle
from lab.settings import Settings
from tests.api.conftest import WaitOp

Headers = dict[str, dict[str, str]]


@pytest.fixture(autouse=True)
def no_guests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seats "come up" and go down without libvirt."""
    monkeypatch.setattr(lifecycle, "up", lambda *_a, **_k: None)
    monkeypatch.setattr(lifecycle, "down", lambda *_a, **_k: None)


def test_a_trainers_class_is_theirs_and_they_delete_it(
    client: TestClient, headers: Headers, settings: Settings, wait_op: WaitOp
) -> None:
    body = {"profile": "tiny", "name": "spring", "seats": 1}
    answer = client.post("/api/v1/classes", json=body, headers=headers["trainer"])
    assert answer.status_code == 202, answer.text
    done = wait_op(answer.headers["location"], headers["trainer"])
    assert done["status"] == "succeeded", done
    assert "spring" in UserStore.open(settings).get("trainer").classes
    names = [c["name"] for c in client.get("/api/v1/classes", headers=headers["trainer"]).json()]
    assert names == ["c1", "spring"]

    # Another trainer neither sees nor deletes it.
    users = UserStore.open(settings)
    users.add("other-trainer", Role.TRAINER)
    other = {"Authorization": f"Bearer {users.create_token('other-trainer')}"}
    assert client.get("/api/v1/classes", headers=other).json() == []
    assert client.delete("/api/v1/classes/spring", headers=other).status_code == 403

    gone = client.delete("/api/v1/classes/spring", headers=headers["trainer"])
    assert gone.status_code == 202
    ended: dict[str, Any] = wait_op(gone.headers["location"], headers["trainer"])
    assert ended["status"] == "succeeded", ended
    names = [c["name"] for c in client.get("/api/v1/classes", headers=headers["admin"]).json()]
    assert names == ["c1"]
    assert "spring" not in UserStore.open(settings).get("trainer").classes


def test_a_class_made_by_staff_is_nobodys(
    client: TestClient, headers: Headers, settings: Settings, wait_op: WaitOp
) -> None:
    body = {"profile": "tiny", "name": "autumn", "seats": 1}
    answer = client.post("/api/v1/classes", json=body, headers=headers["engineer"])
    assert wait_op(answer.headers["location"], headers["engineer"])["status"] == "succeeded"
    assert "autumn" not in UserStore.open(settings).get("trainer").classes


def test_a_trainer_reads_what_a_class_can_be_made_from(
    client: TestClient, headers: Headers
) -> None:
    sources = client.get("/api/v1/class-sources", headers=headers["trainer"]).json()
    names = [p["name"] for p in sources["profiles"]]
    assert "tiny" in names and all(p["title"] for p in sources["profiles"])
    assert sources["templates"] == []
    assert client.get("/api/v1/class-sources", headers=headers["trainee"]).status_code == 403
