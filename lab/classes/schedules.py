"""Scheduled class resets: "reset class 7-B at 08:30, before the lesson".

A schedule is a row in the state database; the API service (`lab serve`) runs a
scheduler that starts due schedules as ordinary class-reset operations, so the result
is an operation like any other (its seats' outcomes), linked from the schedule. A
schedule that comes due while no service runs starts when one does, unless it is more
than `STALE_AFTER` late: then it is marked missed rather than resetting mid-lesson.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.store.state import StateStore, now

STALE_AFTER = timedelta(minutes=30)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    class      TEXT NOT NULL,
    at         TEXT NOT NULL,
    status     TEXT NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (status, at);
"""


class ScheduleStatus(StrEnum):
    PENDING = "pending"  # waiting for its time
    STARTED = "started"  # its operation was submitted (see operation_id)
    CANCELED = "canceled"
    MISSED = "missed"  # no service ran in time
    REFUSED = "refused"  # the reset could not be started (e.g. another operation ran)


class Schedule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    class_name: str
    at: datetime  # timezone-aware
    cold: bool = False
    created_by: str
    created_at: datetime
    status: ScheduleStatus = ScheduleStatus.PENDING
    operation_id: str | None = None
    note: str = ""


MAX_AHEAD = timedelta(days=366)


class ScheduleStore:
    def __init__(self, state: StateStore) -> None:
        self.state = state
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    def add(self, class_name: str, at: datetime, user: str, *, cold: bool = False) -> Schedule:
        if at.tzinfo is None:
            raise InvalidError(
                f"{at.isoformat()} has no time zone",
                hint="give the offset, e.g. 2026-12-01T08:30:00+02:00 (Kyiv in winter)",
            )
        if at <= now():
            raise InvalidError(f"{at.isoformat()} is in the past", hint="schedule a future time")
        if at > now() + MAX_AHEAD:
            # Also keeps `at` inside what datetime can convert to UTC (9999-12-31T23:59-14:00
            # is past datetime.max there).
            raise InvalidError(
                f"{at.isoformat()} is more than {MAX_AHEAD.days} days ahead",
                hint="schedule resets for this school year at most",
            )
        with self.state.transaction() as db:
            cur = db.execute(
                "INSERT INTO schedules (class, at, status, record) VALUES (?, ?, ?, '{}')",
                (class_name, _utc(at), ScheduleStatus.PENDING),
            )
            schedule = Schedule(
                id=int(cur.lastrowid or 0),
                class_name=class_name,
                at=at,
                cold=cold,
                created_by=user,
                created_at=now(),
            )
            db.execute(
                "UPDATE schedules SET record = ? WHERE id = ?",
                (schedule.model_dump_json(), schedule.id),
            )
        return schedule

    def get(self, schedule_id: int) -> Schedule:
        with self.state.transaction() as db:
            row = db.execute("SELECT record FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no schedule {schedule_id}")
        return Schedule.model_validate_json(row[0])

    def list_for(self, class_name: str) -> list[Schedule]:
        """A class's schedules, soonest first."""
        with self.state.transaction() as db:
            rows = db.execute(
                "SELECT record FROM schedules WHERE class = ? ORDER BY at", (class_name,)
            ).fetchall()
        return [Schedule.model_validate_json(r[0]) for r in rows]

    def cancel(self, schedule_id: int) -> Schedule:
        schedule = self.get(schedule_id)
        if schedule.status is not ScheduleStatus.PENDING:
            raise ConflictError(
                f"schedule {schedule_id} is {schedule.status}, not pending",
                hint="only a schedule that has not started can be canceled",
            )
        return self._update(schedule, status=ScheduleStatus.CANCELED)

    def claim_due(self) -> list[Schedule]:
        """Pending schedules whose time has come, marked started in one transaction
        (so two services sharing a database never both start one)."""
        stamp = now()
        with self.state.transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT record FROM schedules WHERE status = ? AND at <= ?",
                (ScheduleStatus.PENDING, _utc(stamp)),
            ).fetchall()
            due = [Schedule.model_validate_json(r[0]) for r in rows]
            claimed = []
            for schedule in due:
                late = stamp - schedule.at > STALE_AFTER
                updated = schedule.model_copy(
                    update={
                        "status": ScheduleStatus.MISSED if late else ScheduleStatus.STARTED,
                        "note": f"missed: no service ran until {stamp:%Y-%m-%d %H:%M} UTC"
                        if late
                        else "",
                    }
                )
                db.execute(
                    "UPDATE schedules SET status = ?, record = ? WHERE id = ?",
                    (updated.status, updated.model_dump_json(), updated.id),
                )
                if not late:
                    claimed.append(updated)
        return claimed

    def started(self, schedule: Schedule, operation_id: str) -> Schedule:
        return self._update(schedule, operation_id=operation_id)

    def refused(self, schedule: Schedule, why: str) -> Schedule:
        return self._update(schedule, status=ScheduleStatus.REFUSED, note=why)

    def _update(self, schedule: Schedule, **changes: object) -> Schedule:
        updated = schedule.model_copy(update=changes)
        with self.state.transaction() as db:
            db.execute(
                "UPDATE schedules SET status = ?, record = ? WHERE id = ?",
                (updated.status, updated.model_dump_json(), updated.id),
            )
        return updated


def _utc(at: datetime) -> str:
    """Sortable text in UTC, so that `at <= now` compares correctly in SQL."""
    return at.astimezone(now().tzinfo).strftime("%Y-%m-%dT%H:%M:%S.%f")
