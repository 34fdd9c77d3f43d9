"""Operations: long-running actions (up, down, reset, ...) recorded in the state store.

An operation is `pending` when accepted, `running` once a worker picked it up, and
ends `succeeded`, `failed` or `canceled`. Its progress lines are rows of their own,
numbered, so that any process can follow them (the API's event stream does). Nothing
about an operation lives only in the memory of the process running it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from lab.commands import process_alive
from lab.errors import ConflictError, InvalidError, NotFoundError, quote
from lab.settings import Settings
from lab.store.state import StateStore, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    target     TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    record     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operations_by_target ON operations (target, status);
CREATE TABLE IF NOT EXISTS operation_events (
    operation TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    at        TEXT NOT NULL,
    subject   TEXT NOT NULL,
    message   TEXT NOT NULL,
    PRIMARY KEY (operation, seq)
);
"""


# How many leading digits of an operation's id `lab operation list` shows and `find` needs.
SHORT_ID = 12
_HEX = re.compile(r"[0-9a-f]+")


class OpStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def done(self) -> bool:
        return self in (OpStatus.SUCCEEDED, OpStatus.FAILED, OpStatus.CANCELED)


ACTIVE = (OpStatus.PENDING, OpStatus.RUNNING)


class Operation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: str  # up, down, start, stop, baseline, reset, class-create, ...
    target: str  # "lab/NAME" or "class/NAME"
    status: OpStatus
    created_by: str
    progress: str = ""  # the latest progress line
    events: int = 0  # how many progress lines there are
    result: Any = None  # JSON of the use case's result
    error: str = ""
    hint: str = ""
    created_at: datetime
    updated_at: datetime


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    at: datetime
    subject: str
    message: str


class OperationStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def open(cls, settings: Settings) -> OperationStore:
        return cls(StateStore.open(settings))

    def create(self, kind: str, target: str, user: str) -> Operation:
        """Record a pending operation; ConflictError if one on `target` is still active.

        Checking and inserting is one immediate transaction, so two requests racing
        for the same lab cannot both be accepted.
        """
        stamp = now()
        op = Operation(
            id=uuid.uuid4().hex,
            kind=kind,
            target=target,
            status=OpStatus.PENDING,
            created_by=user,
            created_at=stamp,
            updated_at=stamp,
        )
        with self.state.transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            busy = db.execute(
                "SELECT id, kind FROM operations WHERE target = ? AND status IN (?, ?)",
                (target, *ACTIVE),
            ).fetchone()
            if busy is not None:
                raise ConflictError(
                    f"operation {busy[0]} ({busy[1]}) on {target} has not finished",
                    hint=f"wait for it: GET /api/v1/operations/{busy[0]}",
                )
            db.execute(
                "INSERT INTO operations (id, kind, target, status, created_by, pid, record,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (op.id, kind, target, op.status, user, os.getpid(), _dump(op), stamp.isoformat()),
            )
        return op

    def get(self, op_id: str) -> Operation:
        with self.state.transaction() as db:
            row = db.execute("SELECT record FROM operations WHERE id = ?", (op_id,)).fetchone()
        if row is None:
            raise _not_found(op_id)
        return Operation.model_validate_json(row[0])

    def find(self, prefix: str) -> Operation:
        """The operation whose id starts with `prefix` (at least SHORT_ID hex digits, as
        `lab operation list` shows them); NotFoundError for none, InvalidError for several."""
        if not _HEX.fullmatch(prefix) or len(prefix) < SHORT_ID:
            raise NotFoundError(
                f"no operation {quote(prefix)}",
                hint=f"an operation's id is hex; give at least its first {SHORT_ID} digits"
                " (`lab operation list`)",
            )
        with self.state.transaction() as db:
            rows = db.execute(
                "SELECT record FROM operations WHERE substr(id, 1, ?) = ? LIMIT 2",
                (len(prefix), prefix),
            ).fetchall()
        if not rows:
            raise _not_found(prefix)
        if len(rows) > 1:
            raise InvalidError(
                f"several operations' ids start with {quote(prefix)}",
                hint="give more of the id (`lab operation show` takes the whole of it)",
            )
        return Operation.model_validate_json(rows[0][0])

    def list_operations(self, user: str | None = None, limit: int = 100) -> list[Operation]:
        """Newest first; only `user`'s when given."""
        query = "SELECT record FROM operations"
        args: tuple[object, ...] = ()
        if user is not None:
            query, args = query + " WHERE created_by = ?", (user,)
        with self.state.transaction() as db:
            rows = db.execute(query + " ORDER BY created_at DESC LIMIT ?", (*args, limit))
            return [Operation.model_validate_json(r[0]) for r in rows.fetchall()]

    def counts(self) -> dict[tuple[str, str], int]:
        """(kind, status) -> how many operations."""
        with self.state.transaction() as db:
            rows = db.execute("SELECT kind, status, count(*) FROM operations GROUP BY 1, 2")
            return {(k, s): n for k, s, n in rows.fetchall()}

    def start(self, op_id: str) -> bool:
        """pending -> running; False if it is no longer pending (canceled meanwhile)."""
        return self._move(op_id, (OpStatus.PENDING,), OpStatus.RUNNING, {})

    def cancel(self, op_id: str) -> Operation:
        """Cancel a pending operation. A running one cannot be stopped safely: 409."""
        if not self._move(op_id, (OpStatus.PENDING,), OpStatus.CANCELED, {}):
            op = self.get(op_id)
            raise ConflictError(
                f"operation {op_id} is {op.status} and cannot be canceled",
                hint="only a pending operation can be canceled; a running one is"
                " left to finish, because stopping it half-way could leave the lab"
                " half-made",
            )
        return self.get(op_id)

    def finish(
        self, op_id: str, status: OpStatus, *, result: Any = None, error: str = "", hint: str = ""
    ) -> None:
        self._move(op_id, ACTIVE, status, {"result": result, "error": error, "hint": hint})

    def add_event(self, op_id: str, subject: str, message: str) -> None:
        with self.state.transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT record FROM operations WHERE id = ?", (op_id,)).fetchone()
            op = Operation.model_validate_json(row[0])
            seq = op.events + 1
            db.execute(
                "INSERT INTO operation_events (operation, seq, at, subject, message)"
                " VALUES (?, ?, ?, ?, ?)",
                (op_id, seq, now().isoformat(), subject, message),
            )
            line = f"{subject}: {message}"
            updated = op.model_copy(update={"events": seq, "progress": line, "updated_at": now()})
            db.execute("UPDATE operations SET record = ? WHERE id = ?", (_dump(updated), op_id))

    def events(self, op_id: str, after: int = 0) -> list[Event]:
        with self.state.transaction() as db:
            rows = db.execute(
                "SELECT seq, at, subject, message FROM operation_events"
                " WHERE operation = ? AND seq > ? ORDER BY seq",
                (op_id, after),
            ).fetchall()
        return [
            Event(seq=s, at=datetime.fromisoformat(a), subject=j, message=m) for s, a, j, m in rows
        ]

    def fail_orphans(self) -> list[str]:
        """Fail active operations whose process is gone (the API was stopped or killed)."""
        with self.state.transaction() as db:
            rows = db.execute(
                "SELECT id, pid FROM operations WHERE status IN (?, ?)", ACTIVE
            ).fetchall()
        orphans = [op_id for op_id, pid in rows if not process_alive(pid)]
        for op_id in orphans:
            self.finish(
                op_id,
                OpStatus.FAILED,
                error="the process running this operation stopped before it finished",
                hint="`lab reconcile` makes libvirt and the state store agree again",
            )
        return orphans

    def _move(
        self, op_id: str, old: tuple[OpStatus, ...], new: OpStatus, fields: dict[str, Any]
    ) -> bool:
        with self.state.transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            row = _row(db, op_id)
            op = Operation.model_validate_json(row)
            if op.status not in old:
                return False
            moved = op.model_copy(update={"status": new, "updated_at": now(), **fields})
            db.execute(
                "UPDATE operations SET status = ?, record = ? WHERE id = ?",
                (new, _dump(moved), op_id),
            )
            return True


def _not_found(op_id: str) -> NotFoundError:
    return NotFoundError(
        f"no operation {quote(op_id)}",
        hint="`lab operation list` or GET /api/v1/operations lists the operations",
    )


def _row(db: sqlite3.Connection, op_id: str) -> str:
    row = db.execute("SELECT record FROM operations WHERE id = ?", (op_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no operation {quote(op_id)}")
    return str(row[0])


def _dump(op: Operation) -> str:
    return json.dumps(op.model_dump(mode="json"))
