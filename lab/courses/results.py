"""What the seats of a class did in its course: tables of their own in the state database.

Per seat: the task it is on and when it started it. Per seat and task: when the seat
first started it and how many of its hints were revealed. Per attempt: the task, when,
whether it passed, how long the checks took and what each found (JSON). Results belong to
the class, not to its labs: a reset or a checkpoint never touches them, and a seat's lab
brought back keeps its seat's results.

Every write counts on the counter `course_results` (lab.store.state.counted), so a live
board learns that something changed by reading one number. When a class is deleted its
results are written out as CSV (lab.courses.runs.forget_class) before the rows go.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from pydantic import TypeAdapter

from lab.base import Frozen
from lab.courses.outcomes import CheckOutcome
from lab.store.state import StateStore, counted, generation, now

COUNTER = "course_results"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS course_seats (
    class      TEXT NOT NULL,
    seat       TEXT NOT NULL,
    task       INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (class, seat)
);
CREATE TABLE IF NOT EXISTS course_attempts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    class   TEXT NOT NULL,
    seat    TEXT NOT NULL,
    task    TEXT NOT NULL,
    at      TEXT NOT NULL,
    ok      INTEGER NOT NULL,
    seconds REAL NOT NULL,
    checks  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS course_attempts_by_seat ON course_attempts (class, seat, id);
CREATE TABLE IF NOT EXISTS course_tasks (
    class      TEXT NOT NULL,
    seat       TEXT NOT NULL,
    task       TEXT NOT NULL,
    started_at TEXT NOT NULL,
    hints      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (class, seat, task)
);
""" + counted(COUNTER, "course_seats", "course_attempts", "course_tasks")
_TABLES = ("course_seats", "course_attempts", "course_tasks")

_CHECKS = TypeAdapter(tuple[CheckOutcome, ...])


class SeatProgress(Frozen):
    """Where a seat is: the index of its current task (= the number of tasks: all done)
    and when it started that task."""

    seat: str
    index: int
    started_at: datetime


class AttemptRecord(Frozen):
    """One round of a task's checks on a seat."""

    seat: str
    task: str
    at: datetime
    ok: bool
    seconds: float
    checks: tuple[CheckOutcome, ...]


class TaskRow(Frozen):
    """A task a seat has started: when first, and the hints revealed."""

    started_at: datetime
    hints: int = 0


class ClassResults(Frozen):
    """Everything recorded of a class's course, read in one transaction."""

    class_name: str
    progress: dict[str, SeatProgress]  # by seat
    attempts: tuple[AttemptRecord, ...]  # oldest first
    tasks: dict[str, dict[str, TaskRow]]  # seat -> task id -> its row

    def of_seat(self, seat: str) -> tuple[AttemptRecord, ...]:
        return tuple(a for a in self.attempts if a.seat == seat)


class ResultsStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    def generation(self) -> int:
        """The write counter of the results: it moves on every change."""
        with self.state.transaction() as db:
            return generation(db, COUNTER)

    def progress(self, klass: str, seat: str) -> SeatProgress | None:
        with self.state.transaction() as db:
            row = db.execute(
                "SELECT seat, task, started_at FROM course_seats WHERE class = ? AND seat = ?",
                (klass, seat),
            ).fetchone()
        return None if row is None else _progress(row)

    def start(self, klass: str, seat: str, index: int, task: str | None) -> SeatProgress:
        """The seat is on task number `index` (0-based; id `task`, None: all done) from
        now; a task started before keeps its first start (its timer is never reset)."""
        progress = SeatProgress(seat=seat, index=index, started_at=now())
        with self.state.transaction() as db:
            _start(db, klass, progress, task, replace=True)
        return progress

    def begin(self, klass: str, seat: str, first_task: str) -> SeatProgress:
        """The seat's progress; a seat never seen starts on the first task, now."""
        with self.state.transaction() as db:
            progress = SeatProgress(seat=seat, index=0, started_at=now())
            _start(db, klass, progress, first_task, replace=False)
            row = db.execute(
                "SELECT seat, task, started_at FROM course_seats WHERE class = ? AND seat = ?",
                (klass, seat),
            ).fetchone()
        return _progress(row)

    def add_attempt(self, klass: str, attempt: AttemptRecord) -> None:
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO course_attempts (class, seat, task, at, ok, seconds, checks)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    klass,
                    attempt.seat,
                    attempt.task,
                    attempt.at.isoformat(),
                    int(attempt.ok),
                    attempt.seconds,
                    _CHECKS.dump_json(attempt.checks).decode(),
                ),
            )

    def reveal_hint(self, klass: str, seat: str, task: str, total: int) -> int | None:
        """Reveal the next of `total` hints; its 1-based number, None when none is left.
        One transaction: two requests side by side never reveal the same hint twice."""
        with self.state.transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT hints FROM course_tasks WHERE class = ? AND seat = ? AND task = ?",
                (klass, seat, task),
            ).fetchone()
            taken = int(row[0]) if row else 0
            if taken >= total:
                return None
            db.execute(
                "INSERT INTO course_tasks (class, seat, task, started_at, hints)"
                " VALUES (?, ?, ?, ?, 1) ON CONFLICT (class, seat, task)"
                " DO UPDATE SET hints = hints + 1",
                (klass, seat, task, now().isoformat()),
            )
            return taken + 1

    def results(self, klass: str, seat: str | None = None) -> ClassResults:
        """The class's results (or one seat's), read in one transaction."""
        where, args = (
            ("class = ?", (klass,))
            if seat is None
            else (
                "class = ? AND seat = ?",
                (klass, seat),
            )
        )
        with self.state.transaction() as db:
            seats = db.execute(
                f"SELECT seat, task, started_at FROM course_seats WHERE {where}", args
            ).fetchall()
            attempts = db.execute(
                "SELECT seat, task, at, ok, seconds, checks FROM course_attempts"
                f" WHERE {where} ORDER BY id",
                args,
            ).fetchall()
            started = db.execute(
                f"SELECT seat, task, started_at, hints FROM course_tasks WHERE {where}", args
            ).fetchall()
        tasks: dict[str, dict[str, TaskRow]] = {}
        for s, task, at, hints in started:
            row = TaskRow(started_at=datetime.fromisoformat(at), hints=int(hints))
            tasks.setdefault(s, {})[task] = row
        return ClassResults(
            class_name=klass,
            progress={row[0]: _progress(row) for row in seats},
            attempts=tuple(
                AttemptRecord(
                    seat=s,
                    task=task,
                    at=datetime.fromisoformat(at),
                    ok=bool(ok),
                    seconds=float(seconds),
                    checks=_CHECKS.validate_json(checks),
                )
                for s, task, at, ok, seconds, checks in attempts
            ),
            tasks=tasks,
        )

    def delete_class(self, klass: str) -> None:
        with self.state.transaction() as db:
            for table in _TABLES:
                db.execute(f"DELETE FROM {table} WHERE class = ?", (klass,))


def _start(
    db: sqlite3.Connection, klass: str, progress: SeatProgress, task: str | None, *, replace: bool
) -> None:
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    db.execute(
        f"{verb} INTO course_seats (class, seat, task, started_at) VALUES (?, ?, ?, ?)",
        (klass, progress.seat, progress.index, progress.started_at.isoformat()),
    )
    if task is not None:
        db.execute(
            "INSERT OR IGNORE INTO course_tasks (class, seat, task, started_at)"
            " VALUES (?, ?, ?, ?)",
            (klass, progress.seat, task, progress.started_at.isoformat()),
        )


def _progress(row: tuple[str, int, str]) -> SeatProgress:
    return SeatProgress(seat=row[0], index=int(row[1]), started_at=datetime.fromisoformat(row[2]))
