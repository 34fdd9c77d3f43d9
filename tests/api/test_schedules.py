"""Scheduled class resets: who may schedule, validation, and the scheduler starting them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lab.classes import schedules
from lab.classes.schedules import ScheduleStatus, ScheduleStore

Headers = dict[str, dict[str, str]]
URL = "/api/v1/classes/c1/schedules"


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_a_trainer_schedules_their_class_and_sees_it(client: TestClient, headers: Headers) -> None:
    r = client.post(URL, json={"at": _in(3600)}, headers=headers["trainer"])
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["status"] == "pending" and made["operation_id"] is None
    listed = client.get(URL, headers=headers["trainer"]).json()
    assert [s["id"] for s in listed] == [made["id"]]


@pytest.mark.parametrize("role", ["trainee", "tester"])
def test_others_may_not_schedule(client: TestClient, headers: Headers, role: str) -> None:
    assert client.post(URL, json={"at": _in(60)}, headers=headers[role]).status_code == 403


def test_times_in_the_past_or_without_a_zone_are_refused(
    client: TestClient, headers: Headers
) -> None:
    past = client.post(URL, json={"at": _in(-60)}, headers=headers["trainer"])
    assert past.status_code == 422 and "past" in past.json()["error"]
    naive = client.post(URL, json={"at": "2030-01-01T08:30:00"}, headers=headers["trainer"])
    assert naive.status_code == 422 and "+02:00" in naive.json()["hint"]


def test_cancel_only_while_pending(client: TestClient, headers: Headers) -> None:
    made = client.post(URL, json={"at": _in(3600)}, headers=headers["trainer"]).json()
    gone = client.delete(f"{URL}/{made['id']}", headers=headers["trainer"])
    assert gone.status_code == 200 and gone.json()["status"] == "canceled"
    again = client.delete(f"{URL}/{made['id']}", headers=headers["trainer"])
    assert again.status_code == 409
    assert (
        client.delete(
            f"/api/v1/classes/c2/schedules/{made['id']}", headers=headers["admin"]
        ).status_code
        == 404
    )


def test_the_scheduler_starts_a_due_reset_as_an_operation(
    app: FastAPI, client: TestClient, headers: Headers
) -> None:
    # Far enough ahead that the request is through before then on a loaded machine (a
    # time already past is refused), then waited out.
    at = datetime.now(UTC) + timedelta(seconds=3)
    made = client.post(URL, json={"at": at.isoformat()}, headers=headers["trainer"])
    assert made.status_code == 201, made.text
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.1)
    # Started by this tick, or by the app's own scheduler thread ticking meanwhile.
    app.state.scheduler.tick()
    store: ScheduleStore = app.state.schedules
    started = store.get(made.json()["id"])
    assert started.status is ScheduleStatus.STARTED and started.operation_id
    op = client.get(f"/api/v1/operations/{started.operation_id}", headers=headers["admin"])
    assert op.status_code == 200
    assert op.json()["kind"] == "class-reset" and op.json()["target"] == "class/c1"
    listed = client.get(URL, headers=headers["trainer"]).json()
    assert listed[0]["operation_id"] == started.operation_id
    assert app.state.scheduler.tick() == []  # started once only


def test_a_long_overdue_schedule_is_marked_missed(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, app: FastAPI
) -> None:
    store: ScheduleStore = app.state.schedules
    made = store.add("c1", datetime.now(UTC) + timedelta(minutes=5), "trainer")
    later = datetime.now(UTC) + timedelta(hours=2)
    monkeypatch.setattr(schedules, "now", lambda: later)
    assert store.claim_due() == []
    assert store.get(made.id).status is ScheduleStatus.MISSED
