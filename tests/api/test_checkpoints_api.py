"""A lab's checkpoints through the API: listed, deleted, refused by name; a reset to a
checkpoint the lab lacks is refused, naming the ones it has. (Capturing one needs machines:
tests/driver/test_checkpoints.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from lab.baselines import generations
from lab.labs.plan import LabPlan
from lab.settings import Settings
from lab.store.state import StateStore

Headers = dict[str, dict[str, str]]
WaitOp = Callable[[str, dict[str, str]], dict[str, Any]]
MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _checkpoint(plan: LabPlan, name: str, generation: str) -> generations.Baseline:
    """A checkpoint on disk as a capture leaves it (one frozen layer, one memory state)."""
    taken = generations.Baseline(
        generation=generation, created_at=MOMENT, memory=("m1",), name=name
    )
    taken.directory(plan).mkdir(parents=True)
    taken.disk(plan, "m1").write_bytes(b"x" * 8192)
    taken.memory_state(plan, "m1").write_bytes(b"y" * 8192)
    (generations.baselines_dir(plan) / "checkpoints").mkdir(exist_ok=True)
    path = generations.baselines_dir(plan) / "checkpoints" / f"{name}.json"
    path.write_text(taken.model_dump_json())
    return taken


def _mine(settings: Settings) -> LabPlan:
    return StateStore.open(settings).get_lab("mine").plan


def test_list_and_delete_checkpoints(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    plan = _mine(settings)
    assert client.get("/api/v1/labs/mine/checkpoints", headers=headers["tester"]).json() == []
    first = _checkpoint(plan, "after-task-1", "20261201T090000-aaaaaa")
    _checkpoint(plan, "after-task-2", "20261201T091000-bbbbbb")
    listed = client.get("/api/v1/labs/mine/checkpoints", headers=headers["tester"]).json()
    assert [c["name"] for c in listed] == ["after-task-1", "after-task-2"]
    assert listed[0]["memory"] == ["m1"] and listed[0]["size"] >= 16384
    assert datetime.fromisoformat(listed[0]["created_at"]) == MOMENT

    gone = client.delete("/api/v1/labs/mine/checkpoints/after-task-1", headers=headers["tester"])
    assert gone.status_code == 204, gone.text
    assert not first.directory(plan).exists()  # no machine's disk sits on it
    again = client.delete("/api/v1/labs/mine/checkpoints/after-task-1", headers=headers["tester"])
    assert again.status_code == 404
    assert again.json()["hint"] == "its checkpoints: after-task-2"


def test_checkpoint_names_are_checked(client: TestClient, headers: Headers) -> None:
    bad = client.post(
        "/api/v1/labs/mine/checkpoints", json={"name": "../x"}, headers=headers["tester"]
    )
    assert bad.status_code == 422
    bad = client.delete("/api/v1/labs/mine/checkpoints/Bad", headers=headers["tester"])
    assert bad.status_code == 422 and "lowercase" in bad.json()["hint"]
    bad = client.post("/api/v1/labs/mine/reset", json={"to": "A B"}, headers=headers["tester"])
    assert bad.status_code == 422
    bad = client.post("/api/v1/classes/c1/reset", json={"to": "-x"}, headers=headers["trainer"])
    assert bad.status_code == 422


def test_a_reset_to_a_checkpoint_the_lab_lacks_is_refused_naming_those_it_has(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    _checkpoint(_mine(settings), "after-task-1", "20261201T090000-aaaaaa")
    refused = client.post(
        "/api/v1/labs/mine/reset", json={"to": "after-task-9"}, headers=headers["tester"]
    )
    assert refused.status_code == 404, refused.text
    assert "no checkpoint 'after-task-9'" in refused.json()["error"]
    assert refused.json()["hint"] == "its checkpoints: after-task-1"
    forbidden = client.post(
        "/api/v1/labs/other/reset", json={"to": "after-task-1"}, headers=headers["tester"]
    )
    assert forbidden.status_code == 403


def test_a_class_reset_to_a_checkpoint_a_seat_lacks_fails_that_seat(
    client: TestClient, headers: Headers, settings: Settings, wait_op: WaitOp
) -> None:
    started = client.post(
        "/api/v1/classes/c1/reset", json={"to": "after-task-1"}, headers=headers["trainer"]
    )
    assert started.status_code == 202, started.text
    done = wait_op(started.json()["url"], headers["trainer"])
    assert done["status"] == "failed"
    seats = {seat["seat"]: seat for seat in done["result"]}
    assert set(seats) == {"c1-01", "c1-02"}
    assert all("no checkpoint 'after-task-1'" in seat["error"] for seat in seats.values())
