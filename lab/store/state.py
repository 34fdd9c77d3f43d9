"""The embedded state store: SQLite under LAB_HOME.

State never lives only in process memory: every lab the orchestrator creates is
recorded here (and in its domains' libvirt metadata), so that a crash can be
reconciled. Rows hold frozen models serialised as JSON; the columns beside them
exist for lookups.

Reads are cached, never trusted blindly: triggers count every write to a table
(`counters`), whichever process makes it (the API, a CLI command), and a cached read
is used only while its table's counter is what it was when the cache was filled. A
counter starts at a random value, so a database made anew at the same path never
matches a cache of the old one. Connections are kept per thread and reused.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from lab.baselines.records import ResetRecord
from lab.classes.records import ClassRecord
from lab.errors import ConflictError, NotFoundError, quote
from lab.labs.records import LabRecord
from lab.settings import Settings

T = TypeVar("T")
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS labs (
    name       TEXT PRIMARY KEY,
    profile    TEXT NOT NULL,
    status     TEXT NOT NULL,
    record     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS classes (
    name       TEXT PRIMARY KEY,
    record     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lab         TEXT NOT NULL,
    record      TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resets_by_lab ON resets (lab, id);
CREATE TABLE IF NOT EXISTS lab_images (
    lab   TEXT NOT NULL REFERENCES labs(name) ON DELETE CASCADE,
    image TEXT NOT NULL,
    PRIMARY KEY (lab, image)
);
CREATE TABLE IF NOT EXISTS hosts (
    name   TEXT PRIMARY KEY,
    uri    TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def counted(counter: str, *tables: str) -> str:
    """SQL that makes every write to `tables` add one to the counter `counter`."""
    sql = f"""
INSERT OR IGNORE INTO counters (name, value) VALUES ('{counter}', abs(random() / 4));"""
    for table in tables:
        for event in ("insert", "update", "delete"):
            sql += f"""
CREATE TRIGGER IF NOT EXISTS {table}_{event}_counted AFTER {event} ON {table}
BEGIN UPDATE counters SET value = value + 1 WHERE name = '{counter}'; END;"""
    return sql


_SCHEMA += counted("labs", "labs") + counted("classes", "classes")


# Databases this process has opened (schema created, WAL on): the API opens the store
# on every request, and re-running the schema each time costs more than the query.
_READY: set[Path] = set()
_UNCOUNTED = itertools.count(-1, -1)
_IDLE_PER_THREAD = 8  # idle connections a thread keeps, to as many databases
# SQLite's page cache per connection, in KiB (its default: 2000). Connections are kept
# per thread, and `lab serve` has ~50 threads (the worker threads of the requests, the
# operations', the scheduler's): with the default, each cache fills up to 2 MiB as the
# database grows by the operations, events and audit rows of every request, and the
# process with it (malloc's arenas fragment around those pages, so most of it is not
# given back either): +40 MiB RSS in a minute under load. What the caches would save
# is little: the hot reads are kept parsed in memory (ReadCache), in WAL mode a write by
# any other connection empties a connection's cache anyway, and a page missed is read
# from the OS's file cache.
_PAGE_CACHE_KIB = 128


class _Idle(threading.local):
    """This thread's idle connections, by database path, with the file they opened."""

    def __init__(self) -> None:
        self.connections: dict[Path, tuple[sqlite3.Connection, tuple[int, int]]] = {}


_IDLE = _Idle()
# A connection must not cross a fork: a child process starts with none.
os.register_at_fork(after_in_child=lambda: _IDLE.connections.clear())


@dataclass(frozen=True)
class LabsSnapshot:
    """Every lab, as read at one value of the labs' counter."""

    records: tuple[LabRecord, ...]
    by_name: dict[str, LabRecord]


class ReadCache:
    """What this process has read of one database: parts, each with the value of the
    counter it was read at. Shared by every StateStore of the database and its threads.

    `read` is how every part is got: the cached value while its counter has not moved,
    else `load()`, run by one thread at a time (the others wait, then use what it read).
    """

    def __init__(self) -> None:
        self.parts: dict[str, tuple[int, Any]] = {}
        self.loading = threading.RLock()

    def current(self, db: sqlite3.Connection, name: str, counter: str) -> Any:
        """The part if its counter has not moved since it was read, else None."""
        found = self.parts.get(name)
        if found is not None and found[0] == generation(db, counter):
            return found[1]
        return None

    def read(self, db: sqlite3.Connection, name: str, counter: str, load: Callable[[], T]) -> T:
        value: T | None = self.current(db, name, counter)
        if value is not None:
            return value
        with self.loading:
            # The counter first: what `load` reads after it is at least that new.
            at = generation(db, counter)
            found = self.parts.get(name)
            if found is not None and found[0] == at:
                loaded: T = found[1]  # read by another thread meanwhile
                return loaded
            value = load()
            self.parts[name] = (at, value)
            return value


def generation(db: sqlite3.Connection, counter: str) -> int:
    """The write counter `counter` (see the module's doc), read on `db`."""
    row = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
    # No counter, nothing to trust: a value no cache holds (they are all >= 0).
    return int(row[0]) if row else next(_UNCOUNTED)


_CACHES: dict[Path, ReadCache] = {}
_CACHES_LOCK = threading.Lock()
_MAX_CACHES = 64  # databases whose reads are kept (a process uses one; tests, many)


def _cache_of(path: Path) -> ReadCache:
    with _CACHES_LOCK:
        found = _CACHES.get(path)
        if found is None:
            if len(_CACHES) >= _MAX_CACHES:
                _CACHES.pop(next(iter(_CACHES)))  # its stores keep it; new ones start cold
            found = _CACHES[path] = ReadCache()
        return found


def _identity(path: Path) -> tuple[int, int]:
    """Which file `path` is now: a connection to a file since replaced is not reused."""
    st = path.stat()
    return st.st_dev, st.st_ino


@lru_cache(maxsize=4096)
def _wal(path: Path, seconds: float = 30.0) -> None:
    """WAL mode for the database (it persists): readers never wait for a writer.
    Switching needs the database to itself, and SQLite answers "locked" at once, without
    its busy wait, while another connection uses it: two threads or processes opening a
    new database together (two labs brought up side by side on a new LAB_HOME) try again
    until the other is done."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with closing(sqlite3.connect(path, timeout=seconds)) as db:
                db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _lab_record(text: str) -> LabRecord:
    """A lab record from its JSON, parsed once per distinct text: validating a plan is
    the dearest part of listing labs, and records are frozen, so sharing them is safe."""
    return LabRecord.model_validate_json(text)


def now() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """Access to the SQLite state database. Each call uses a short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache = _cache_of(path)
        if path in _READY and path.exists():
            return  # opened before by this process: schema and WAL are in place
        path.parent.mkdir(parents=True, exist_ok=True)
        # The database holds token and password hashes, sessions and the audit log: it is
        # made 0600 before SQLite opens it (not chmod-ed after, which leaves a window), and
        # SQLite gives its -wal and -shm files the database's own mode.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        _wal(self.path)
        self.path.chmod(0o600)  # a database made by an older version, world-readable
        with self._tx() as db:
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        _READY.add(path)

    @classmethod
    def open(cls, settings: Settings) -> StateStore:
        return cls(settings.state_db)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One short transaction, for the stores that share this database (users, operations)."""
        return self._tx()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A connection inside `with db:` (commit, or rollback on error). The thread's
        idle connection to this database when it has one; a nested call opens another."""
        try:
            identity = _identity(self.path)
        except FileNotFoundError:  # gone since it was opened: fail as before, on the query
            identity = (0, 0)
        idle = _IDLE.connections.pop(self.path, None)
        if idle is not None and idle[1] != identity:
            idle[0].close()
            idle = None
        db = idle[0] if idle is not None else self._connect()
        try:
            with db:
                yield db
        finally:
            if db.in_transaction:  # left open by a failed statement: not reusable
                db.close()
            else:
                _keep_idle(self.path, db, identity)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB}")
        return db

    def add_lab(self, lab: LabRecord) -> None:
        """Record a new lab; ConflictError when the name is taken."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO labs (name, profile, status, record, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        lab.name,
                        lab.profile,
                        lab.status,
                        lab.model_dump_json(),
                        lab.created_at.isoformat(),
                        lab.updated_at.isoformat(),
                    ),
                )
                self._write_images(db, lab)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"a lab named '{lab.name}' exists already",
                hint=f"pick another name with --name, or take it down: lab down {lab.name}",
            ) from exc

    def update_lab(self, lab: LabRecord) -> LabRecord:
        """Replace a lab's record (stamping updated_at); NotFoundError when it is gone."""
        lab = lab.model_copy(update={"updated_at": now()})
        with self._tx() as db:
            cur = db.execute(
                "UPDATE labs SET profile = ?, status = ?, record = ?, updated_at = ?"
                " WHERE name = ?",
                (
                    lab.profile,
                    lab.status,
                    lab.model_dump_json(),
                    lab.updated_at.isoformat(),
                    lab.name,
                ),
            )
            if cur.rowcount == 0:
                raise _no_lab(lab.name)
            db.execute("DELETE FROM lab_images WHERE lab = ?", (lab.name,))
            self._write_images(db, lab)
        return lab

    def get_lab(self, name: str) -> LabRecord:
        snapshot = self.current_labs()
        if snapshot is not None:
            found = snapshot.by_name.get(name)
        else:  # one lab: cheaper to read it than all of them
            with self._tx() as db:
                row = db.execute("SELECT record FROM labs WHERE name = ?", (name,)).fetchone()
            found = None if row is None else _lab_record(row[0])
        if found is None:
            raise _no_lab(name)
        return found

    def find_lab(self, name: str) -> LabRecord | None:
        try:
            return self.get_lab(name)
        except NotFoundError:
            return None

    def list_labs(self) -> list[LabRecord]:
        """Every lab, by name; read again only after a write to the labs table."""
        with self._tx() as db:
            snapshot: LabsSnapshot = self.cache.read(db, "labs", "labs", lambda: _read_labs(db))
        return list(snapshot.records)

    def current_labs(self) -> LabsSnapshot | None:
        """The labs as cached, if no write to them happened since (one indexed read of
        a counter: microseconds, fit for an event loop); None when they must be read."""
        with self._tx() as db:
            snapshot: LabsSnapshot | None = self.cache.current(db, "labs", "labs")
        return snapshot

    def delete_lab(self, name: str) -> None:
        """Forget a lab. Idempotent: forgetting an unknown lab is not an error."""
        with self._tx() as db:
            db.execute("DELETE FROM labs WHERE name = ?", (name,))

    def add_reset(self, reset: ResetRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO resets (lab, record, finished_at) VALUES (?, ?, ?)",
                (reset.lab, reset.model_dump_json(), now().isoformat()),
            )

    def resets(self, lab: str, limit: int = 20) -> list[ResetRecord]:
        """The lab's latest resets, newest first."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT record FROM resets WHERE lab = ? ORDER BY id DESC LIMIT ?", (lab, limit)
            ).fetchall()
        return [ResetRecord.model_validate_json(r[0]) for r in rows]

    def add_class(self, klass: ClassRecord) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO classes (name, record) VALUES (?, ?)",
                    (klass.name, klass.model_dump_json()),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"a class named '{klass.name}' exists already",
                hint=f"pick another name, or delete it: lab class delete {klass.name}",
            ) from exc

    def get_class(self, name: str) -> ClassRecord:
        for klass in self.list_classes():
            if klass.name == name:
                return klass
        raise NotFoundError(
            f"no class named {quote(name)}", hint="`lab class list` shows the classes"
        )

    def list_classes(self) -> list[ClassRecord]:
        """Every class, by name (a handful): read again only after a write to them."""

        def load() -> tuple[ClassRecord, ...]:
            rows = db.execute("SELECT record FROM classes ORDER BY name").fetchall()
            return tuple(ClassRecord.model_validate_json(r[0]) for r in rows)

        with self._tx() as db:
            found: tuple[ClassRecord, ...] = self.cache.read(db, "classes", "classes", load)
        return list(found)

    def delete_class(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM classes WHERE name = ?", (name,))

    def labs_using_image(self, image: str) -> list[str]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT lab FROM lab_images WHERE image = ? ORDER BY lab", (image,)
            ).fetchall()
        return [r[0] for r in rows]

    @staticmethod
    def _write_images(db: sqlite3.Connection, lab: LabRecord) -> None:
        images = lab.images
        db.executemany(
            "INSERT INTO lab_images (lab, image) VALUES (?, ?)", [(lab.name, i) for i in images]
        )


def _read_labs(db: sqlite3.Connection) -> LabsSnapshot:
    rows = db.execute("SELECT record FROM labs ORDER BY name").fetchall()
    records = tuple(_lab_record(r[0]) for r in rows)
    return LabsSnapshot(records, {r.name: r for r in records})


def _keep_idle(path: Path, db: sqlite3.Connection, identity: tuple[int, int]) -> None:
    idle = _IDLE.connections
    if path in idle:  # one of a nested transaction went back first: one is enough
        db.close()
        return
    if len(idle) >= _IDLE_PER_THREAD:
        oldest = next(iter(idle))
        idle.pop(oldest)[0].close()
    idle[path] = (db, identity)


def labs_using_image(settings: Settings, image: str) -> list[str]:
    """Names of the labs whose machines use the image named `image`."""
    if not settings.state_db.exists():
        return []
    return StateStore.open(settings).labs_using_image(image)


def _no_lab(name: str) -> NotFoundError:
    return NotFoundError(f"no lab named {quote(name)}", hint="`lab list` shows the labs that exist")
