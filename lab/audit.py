"""The audit log: who did what to which lab or class, when, and with what result."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from lab.settings import Settings
from lab.state import StateStore, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    user   TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = 0
    at: datetime
    user: str  # "-" when the request carried no valid token
    action: str  # e.g. "POST /api/v1/labs/{name}/reset"
    target: str  # e.g. "lab/demo", "" when none
    result: str  # the HTTP status, e.g. "202"
    detail: str = ""  # e.g. the operation id accepted


class AuditLog:
    def __init__(self, state: StateStore) -> None:
        self.state = state
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def open(cls, settings: Settings) -> AuditLog:
        return cls(StateStore.open(settings))

    def add(self, user: str, action: str, target: str, result: str, detail: str = "") -> None:
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO audit (at, user, action, target, result, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (now().isoformat(), user, action, target, result, detail),
            )

    def list_entries(self, target: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first; only entries about `target` when given."""
        query = "SELECT id, at, user, action, target, result, detail FROM audit"
        args: tuple[str, ...] = ()
        if target is not None:
            query, args = query + " WHERE target = ?", (target,)
        with self.state.transaction() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            AuditEntry(
                id=i, at=datetime.fromisoformat(a), user=u, action=c, target=t, result=r, detail=d
            )
            for i, a, u, c, t, r, d in rows
        ]
