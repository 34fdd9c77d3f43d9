"""Operations: 202 and a persisted record, failures with error and hint, events, cancel,
conflicts, and the audit log and metrics they feed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from lab.baselines.records import ResetMode, ResetRecord
from lab.labs.locks import lab_lock
from lab.operations.store import OperationStore, OpStatus
from lab.settings import Settings
from lab.store.state import StateStore, now

Headers = dict[str, dict[str, str]]
WaitOp = Callable[[str, dict[str, str]], dict[str, Any]]


def test_a_lab_without_its_image_fails_as_an_operation(
    client: TestClient, headers: Headers, settings: Settings, wait_op: WaitOp
) -> None:
    response = client.post(
        "/api/v1/labs", json={"profile": "tiny", "name": "noimg"}, headers=headers["engineer"]
    )
    assert response.status_code == 202
    op = response.json()
    assert op["status"] in ("pending", "running", "failed")
    assert response.headers["Location"] == op["url"]
    done = wait_op(op["url"], headers["engineer"])
    assert done["status"] == "failed"
    assert done["error"] == "no image named 'debian-12'"
    assert "lab image build" in done["hint"]
    # persisted: a fresh store (another process) sees the same record
    stored = OperationStore.open(settings).get(op["id"])
    assert stored.status is OpStatus.FAILED and stored.error == done["error"]
    listed = client.get("/api/v1/operations", headers=headers["engineer"]).json()
    assert op["id"] in [o["id"] for o in listed]


def test_events_stream_progress_then_end(client: TestClient, headers: Headers) -> None:
    op = client.post(
        "/api/v1/labs", json={"profile": "tiny", "name": "sse"}, headers=headers["admin"]
    ).json()
    with client.stream("GET", op["events_url"], headers=headers["admin"]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    blocks = [b for b in text.split("\n\n") if b]
    events = [dict(line.split(": ", 1) for line in b.splitlines()) for b in blocks]
    assert [e["event"] for e in events] == ["progress", "progress", "end"]
    assert [e["id"] for e in events[:2]] == ["1", "2"]
    assert json.loads(events[0]["data"])["message"] == "up lab/sse: running"
    assert "failed: no image named" in json.loads(events[1]["data"])["message"]
    assert json.loads(events[2]["data"])["status"] == "failed"
    # resuming after the last event gives only the end
    with client.stream(
        "GET", op["events_url"], headers={**headers["admin"], "Last-Event-ID": "2"}
    ) as response:
        again = "".join(response.iter_text())
    assert again.startswith("event: end")


def test_cancel_a_pending_operation_but_not_a_finished_one(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    pending = OperationStore.open(settings).create("reset", "lab/other", "admin")
    url = f"/api/v1/operations/{pending.id}/cancel"
    response = client.post(url, headers=headers["admin"])
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    again = client.post(url, headers=headers["admin"])
    assert again.status_code == 409
    assert "cannot be canceled" in again.json()["error"]


def test_a_second_operation_on_a_busy_lab_is_409(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    OperationStore.open(settings).create("reset", "lab/other", "admin")  # stays pending
    response = client.post("/api/v1/labs/other/reset", headers=headers["admin"])
    assert response.status_code == 409
    assert "has not finished" in response.json()["error"]


def test_a_lab_locked_elsewhere_is_409_and_recorded(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    with lab_lock(settings, "other"):  # e.g. `lab reset other` on the CLI
        response = client.post(
            "/api/v1/labs/other/reset", json={"cold": True}, headers=headers["admin"]
        )
    assert response.status_code == 409
    assert "another operation on lab 'other'" in response.json()["error"]
    ops = OperationStore.open(settings).list_operations()
    assert ops[0].target == "lab/other" and ops[0].status is OpStatus.FAILED


def test_reset_body_is_checked(client: TestClient, headers: Headers) -> None:
    response = client.post(
        "/api/v1/labs/other/reset", json={"cold": "maybe"}, headers=headers["admin"]
    )
    assert response.status_code == 422


def test_unknown_operation_is_404(client: TestClient, headers: Headers) -> None:
    assert client.get("/api/v1/operations/nope", headers=headers["admin"]).status_code == 404


def test_audit_records_mutating_requests(client: TestClient, headers: Headers) -> None:
    client.post("/api/v1/labs", json={"profile": "tiny", "name": "aud"}, headers=headers["tester"])
    client.delete("/api/v1/labs/other", headers=headers["trainee"])  # refused
    client.post("/api/v1/labs/x1/reset")  # no token
    client.get("/api/v1/labs", headers=headers["admin"])  # a read: not audited
    entries = client.get("/api/v1/audit", headers=headers["admin"]).json()
    seen = {(e["user"], e["action"], e["target"], e["result"]) for e in entries}
    assert ("tester", "POST /api/v1/labs", "lab/aud", "202") in seen
    assert ("trainee", "DELETE /api/v1/labs/other", "lab/other", "403") in seen
    # Without a token, only counted (a summary when the app stops), never one by one.
    assert not any(e["user"] == "-" for e in entries)
    assert not any(e["action"].startswith("GET") for e in entries)
    # the operation's own result is recorded when it ends
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        only = client.get(
            "/api/v1/audit", params={"target": "lab/aud"}, headers=headers["admin"]
        ).json()
        if any(e["action"] == "up" for e in only):
            break
        time.sleep(0.05)
    assert any(e["action"] == "up" and e["result"] == "failed" for e in only)


def test_metrics_text(client: TestClient, headers: Headers, settings: Settings) -> None:
    state = StateStore.open(settings)
    for seconds, ok in ((1.5, True), (25.0, True), (3.0, False)):
        state.add_reset(
            ResetRecord(
                lab="other", mode=ResetMode.MEMORY, ok=ok, seconds=seconds, started_at=now()
            )
        )
    client.post("/api/v1/labs", json={"profile": "tiny", "name": "met"}, headers=headers["admin"])
    response = client.get("/metrics", headers=headers["admin"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("hromada_labs", (("status", "running"),))] == 4
    assert samples[("hromada_machines", ())] == 4
    assert "# TYPE hromada_reset_seconds histogram" in response.text.splitlines()
    memory_ok = (("mode", "memory"), ("ok", "true"))
    assert samples[("hromada_reset_seconds_bucket", (("le", "2"), *memory_ok))] == 1
    assert samples[("hromada_reset_seconds_bucket", (("le", "+Inf"), *memory_ok))] == 2
    assert samples[("hromada_reset_seconds_sum", memory_ok)] == 26.5
    assert samples[("hromada_reset_seconds_count", (("mode", "memory"), ("ok", "false")))] == 1
    assert any(name == "hromada_operations" and ("kind", "up") in on for name, on in samples)
    assert samples[("hromada_unauthenticated_requests_total", ())] >= 0


def test_health_and_openapi_are_public(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    doc = client.get("/openapi.json").json()
    assert "/api/v1/labs/{name}/reset" in doc["paths"]
    assert "bearer" in json.dumps(doc["components"]["securitySchemes"]).lower()
    # Swagger UI and ReDoc would load their scripts from a public CDN: not served.
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
