"""The embedded state store: SQLite under LAB_HOME.

State never lives only in process memory: every lab the orchestrator creates is
recorded here (and in its domains' libvirt metadata), so that a crash can be
reconciled. Rows hold frozen models serialised as JSON; the columns beside them
exist for lookups.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.errors import ConflictError, NotFoundError
from lab.plan import LabPlan
from lab.profile import Profile
from lab.settings import Settings

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
"""


class LabStatus(StrEnum):
    """Where a lab is in its life. `creating`/`deleting` mark work in progress."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"


class VerificationSummary(BaseModel):
    """The last `lab test` verdict of a lab: only a verified lab may be baselined."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: bool
    at: datetime
    total: int
    failed: tuple[str, ...] = ()  # "role: test [machine]" of each failure


class LabRecord(BaseModel):
    """One deployed lab: its plan (every name it owns) and where it is in its life."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    profile: str
    profile_path: str
    status: LabStatus
    plan: LabPlan
    # machine -> digest of the base image it was created from: a rebuilt image moves
    # the name to a new digest, but a lab stays on the disk its overlays sit on.
    image_digests: dict[str, str] = {}
    class_name: str | None = None
    # The profile as brought up (roles, accounts, checks): what provisioning and
    # verification use, even if the profile file has changed since.
    spec: Profile | None = None
    provisioned_at: datetime | None = None
    verification: VerificationSummary | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def images(self) -> set[str]:
        return {m.image for m in self.plan.machines}


class ResetMode(StrEnum):
    MEMORY = "memory"  # fresh overlay over the baseline's disk layer + its saved memory
    COLD = "cold"  # fresh overlay, boot


class ResetRecord(BaseModel):
    """One reset of one lab: how, how long, and whether it ended verified-ready."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lab: str
    mode: ResetMode
    ok: bool
    seconds: float
    started_at: datetime
    note: str = ""  # e.g. why a memory reset fell back to cold


class ClassRecord(BaseModel):
    """A class: N labs ("seats") of one profile, named CLASS-01 ... CLASS-NN."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    profile: str
    profile_path: str
    seats: tuple[str, ...]
    created_at: datetime


# Databases this process has opened (schema created, WAL on): the API opens the store
# on every request, and re-running the schema each time costs more than the query.
_READY: set[Path] = set()


@lru_cache(maxsize=4096)
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
        if path in _READY and path.exists():
            return  # opened before by this process: schema and WAL are in place
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            # WAL once per database (it persists): readers never wait for a writer.
            # Switching modes needs the database to itself, so not on every connection.
            db.execute("PRAGMA journal_mode = WAL")
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
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db
        # The database holds lab keys' locations and, later, token hashes.
        self.path.chmod(0o600)

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
        with self._tx() as db:
            row = db.execute("SELECT record FROM labs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise _no_lab(name)
        return _lab_record(row[0])

    def find_lab(self, name: str) -> LabRecord | None:
        try:
            return self.get_lab(name)
        except NotFoundError:
            return None

    def list_labs(self) -> list[LabRecord]:
        with self._tx() as db:
            rows = db.execute("SELECT record FROM labs ORDER BY name").fetchall()
        return [_lab_record(r[0]) for r in rows]

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
        with self._tx() as db:
            row = db.execute("SELECT record FROM classes WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no class named '{name}'", hint="`lab class list` shows the classes"
            )
        return ClassRecord.model_validate_json(row[0])

    def list_classes(self) -> list[ClassRecord]:
        with self._tx() as db:
            rows = db.execute("SELECT record FROM classes ORDER BY name").fetchall()
        return [ClassRecord.model_validate_json(r[0]) for r in rows]

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


def labs_using_image(settings: Settings, image: str) -> list[str]:
    """Names of the labs whose machines use the image named `image`."""
    if not settings.state_db.exists():
        return []
    return StateStore.open(settings).labs_using_image(image)


def _no_lab(name: str) -> NotFoundError:
    return NotFoundError(f"no lab named '{name}'", hint="`lab list` shows the labs that exist")
