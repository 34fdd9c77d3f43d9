"""Requests that name no user cannot fill the state database: they are counted, and the
counts reach the audit log as one short summary, never one entry per request."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lab.access.audit import AuditLog
from lab.settings import Settings
from lab.store.state import StateStore

JUNK = "x" * 4000  # a long path segment, as a flood would send


def _entries(settings: Settings) -> list[tuple[str, str, str, str]]:
    return [
        (e.user, e.action, e.result, e.detail)
        for e in AuditLog(StateStore.open(settings)).list_entries(limit=1000)
    ]


def _db_size(settings: Settings) -> int:
    return sum(p.stat().st_size for p in settings.home.iterdir() if p.name.startswith("state.db"))


def test_unauthenticated_and_unrouted_requests_are_counted_not_stored(
    app: FastAPI, settings: Settings, headers: dict[str, dict[str, str]]
) -> None:
    with TestClient(app) as client:
        # A user's request is recorded (refused: not theirs, so no operation runs on).
        assert (
            client.post("/api/v1/labs/other/reset", headers=headers["trainee"]).status_code == 403
        )
        before = _entries(settings)
        size = _db_size(settings)
        for i in range(100):
            assert client.post(f"/api/v1/labs/{JUNK}{i}/reset").status_code == 401
            wrong = {"Authorization": f"Bearer hl_wrong{i}"}
            assert client.delete(f"/api/v1/classes/{JUNK}{i}", headers=wrong).status_code == 401
            assert client.post(f"/api/v1/{JUNK}/nothing/{i}").status_code == 404
        assert _entries(settings) == before  # not one entry for the 300
        assert _db_size(settings) - size < 64 * 1024
        metrics = client.get("/metrics", headers=headers["admin"]).text
        assert "hromada_unauthenticated_requests_total 300.0\n" in metrics
    # When the app stops (or a minute has passed), one summary of the 300.
    after = _entries(settings)
    assert len(after) == len(before) + 1
    user, action, result, detail = after[0]
    assert user == "-" and action == "unauthenticated requests x300"
    assert result == "401,404"
    assert "POST /api/v1/labs/{name}/reset 401 x100" in detail
    assert "DELETE /api/v1/classes/{name} 401 x100" in detail
    assert "(no such path) 404 x100" in detail
    assert JUNK[:100] not in detail and len(detail) < 1000
    assert ("trainee", "POST /api/v1/labs/other/reset") in {(e[0], e[1]) for e in after}
