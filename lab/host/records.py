"""Lab hosts known to the orchestrator, kept in the state store (lab.host.model).

The host of LAB_LIBVIRT_URI is always there, named `local`: with no host added the
orchestrator runs as a single server. `lab host add` records more, each reached through
its libvirt URI. A draining host keeps its labs and takes no new ones.
"""

from __future__ import annotations

import sqlite3

from lab.errors import ConflictError, NotFoundError, quote
from lab.host.model import LOCAL, HostRecord
from lab.settings import Settings
from lab.store.state import StateStore, now


class HostStore:
    """The hosts table. `local` has a row only once something about it is recorded
    (draining); `find` and `get` answer for it either way."""

    def __init__(self, state: StateStore, local_uri: str) -> None:
        self.state = state  # its schema has the hosts table
        self.local_uri = local_uri

    @classmethod
    def open(cls, settings: Settings) -> HostStore:
        return cls(StateStore.open(settings), settings.libvirt_uri)

    def add(self, host: HostRecord) -> None:
        """Record a host; ConflictError when its name or URI is taken."""
        if host.name == LOCAL or host.uri == self.local_uri:
            raise ConflictError(
                f"{quote(host.name)} at {host.uri}: that is this machine's own host ({LOCAL},"
                " LAB_LIBVIRT_URI)",
                hint="it is there already: lab host list",
            )
        try:
            with self.state.transaction() as db:
                db.execute(
                    "INSERT INTO hosts (name, uri, record) VALUES (?, ?, ?)",
                    (host.name, host.uri, host.model_dump_json()),
                )
        except sqlite3.IntegrityError as exc:
            taken = self.find(host.name)
            what = f"the name {quote(host.name)}" if taken else f"the URI {host.uri}"
            raise ConflictError(
                f"a host with {what} is known already",
                hint="lab host list shows them; remove one with lab host remove NAME",
            ) from exc

    def find(self, name: str) -> HostRecord | None:
        with self.state.transaction() as db:
            row = db.execute("SELECT record FROM hosts WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return self._current(HostRecord.model_validate_json(row[0]))
        if name == LOCAL:
            return self._local()
        return None

    def get(self, name: str) -> HostRecord:
        found = self.find(name)
        if found is None:
            raise NotFoundError(f"no host named {quote(name)}", hint="lab host list")
        return found

    def list(self) -> list[HostRecord]:
        """`local` first, then the added hosts by name."""
        with self.state.transaction() as db:
            rows = db.execute("SELECT record FROM hosts ORDER BY name").fetchall()
        found = [self._current(HostRecord.model_validate_json(r[0])) for r in rows]
        local = next((h for h in found if h.name == LOCAL), self._local())
        return [local, *(h for h in found if h.name != LOCAL)]

    def set_draining(self, name: str, draining: bool) -> HostRecord:
        host = self.get(name).model_copy(update={"draining": draining})
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO hosts (name, uri, record) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET uri = excluded.uri, record = excluded.record",
                (host.name, host.uri, host.model_dump_json()),
            )
        return host

    def delete(self, name: str) -> None:
        with self.state.transaction() as db:
            db.execute("DELETE FROM hosts WHERE name = ?", (name,))

    def _current(self, host: HostRecord) -> HostRecord:
        """`local`'s row names the URI it had when written: it is LAB_LIBVIRT_URI's now."""
        if host.name == LOCAL:
            return host.model_copy(update={"uri": self.local_uri})
        return host

    def _local(self) -> HostRecord:
        return HostRecord(name=LOCAL, uri=self.local_uri, added_at=now())
