"""The audit log: who did what to which lab or class, when, and with what result."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from lab.settings import Settings
from lab.store.state import StateStore, now

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

EXCERPT = 32


def escaped(value: str, limit: int) -> str:
    """At most `limit` characters of `value`, anything unprintable (line breaks, bidi
    controls) escaped: a line break becomes the two characters backslash and n."""
    cut = value[:limit]
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)
    return shown + ("..." if len(value) > limit else "")


def excerpt(value: str, limit: int = EXCERPT) -> str:
    """A value someone sent, as the audit log may quote it: short, escaped, in quotes."""
    return "'" + escaped(value.replace("'", "\\'"), limit) + "'"


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


class Unauthenticated:
    """Requests that named no user (no or a wrong token, an unknown path, too large,
    throttled): counted, never recorded one by one, since anyone can send them by the
    thousand. The counts, by method, route and status, go into the audit log as one
    summary entry per `every` seconds in which there were any (and at `flush`)."""

    MAX_KINDS = 20  # (method, route, status) kinds listed per summary; the rest summed
    MAX_SOURCES = 1000

    def __init__(
        self, audit: AuditLog, every: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.audit = audit
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._sources: set[str] = set()
        self._since = clock()
        self.total = 0  # since the process started

    def count(self, method: str, route: str, status: int, source: str) -> bool:
        """Count one request; True when a summary is due (call `flush`, off the loop)."""
        with self._lock:
            self.total += 1
            self._counts[(method, route, status)] += 1
            if len(self._sources) < self.MAX_SOURCES:
                self._sources.add(source)
            return self.clock() - self._since >= self.every

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
            sources, self._sources = len(self._sources), set()
            self._since = self.clock()
        if not counts:
            return
        listed = counts.most_common(self.MAX_KINDS)
        parts = [f"{m} {escaped(r, 60)} {s} x{n}" for (m, r, s), n in listed]
        rest = sum(counts.values()) - sum(n for _, n in listed)
        if rest:
            parts.append(f"others x{rest}")
        more = "+" if sources >= self.MAX_SOURCES else ""
        detail = f"from {sources}{more} source(s): " + "; ".join(parts)
        statuses = sorted({s for _, _, s in counts})
        self.audit.add(
            "-",
            f"unauthenticated requests x{sum(counts.values())}",
            "",
            ",".join(str(s) for s in statuses),
            detail,
        )
