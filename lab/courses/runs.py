"""Use cases of a class running a course: a seat checks its task, takes hints, starts a task
again; the trainer watches the board and keeps the results.

A seat works through the course's tasks in order. `check` runs the current task's checks
from the host (lab.courses.checking) and records the attempt; a pass moves the seat to the
next task and saves the lab as it is then as the checkpoint `task-NN` (NN: the next task's
number), so that `restart_task` can put the seat back to the start of the task it is on
(the task's own checkpoint first, else that automatic one, else the baseline) — or back
to the start of an earlier task, which the trainer picks on the board. So every automatic
checkpoint of a seat is kept while its class runs: a memory state per running machine per
task (about the RAM the guests use) is the disk a seat's course costs; they go with the
lab. Results (lab.courses.results) belong to the class and outlive every reset.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from lab.access.users import Role, UserStore
from lab.base import Frozen, Progress, quiet
from lab.baselines import resets
from lab.baselines.records import ResetRecord
from lab.classes.records import ClassRecord
from lab.courses import catalogue, checking
from lab.courses.model import Course, Task, Text
from lab.courses.outcomes import CheckOutcome
from lab.courses.results import (
    COUNTER,
    AttemptRecord,
    ClassResults,
    ResultsStore,
    SeatProgress,
)
from lab.errors import ConflictError, LabError, NotFoundError, quote
from lab.labs.locks import is_locked
from lab.labs.naming import check_lab_name
from lab.settings import Settings
from lab.store.state import StateStore, now


class TaskState(StrEnum):
    DONE = "done"  # an attempt passed
    FAILING = "failing"  # attempted, none passed yet
    NOT_STARTED = "not-started"  # no attempt yet


STATE_WORDS: dict[TaskState, Text] = {
    TaskState.DONE: Text(uk="виконано", en="done"),
    TaskState.FAILING: Text(uk="не пройдено", en="failing"),
    TaskState.NOT_STARTED: Text(uk="не розпочато", en="not started"),
}


class TaskCell(Frozen):
    """One task of one seat: how it went."""

    id: str
    state: TaskState
    attempts: int
    hints_taken: int
    first_at: datetime | None  # the first attempt
    passed_at: datetime | None
    seconds_on_task: float | None  # from its first start to its pass (or now); None: not begun
    last: AttemptRecord | None
    earned: int  # its points once done


class SeatCourse(Frozen):
    """A seat's course as its trainee sees it."""

    class_name: str
    seat: str
    name: str  # the course's name in the catalogue
    course: Course
    index: int  # of the current task; len(tasks): all done
    started_at: datetime  # of the current task
    cells: tuple[TaskCell, ...]
    hints: tuple[Text, ...]  # revealed so far of the current task

    @property
    def current(self) -> Task | None:
        return self.course.tasks[self.index] if self.index < len(self.course.tasks) else None

    @property
    def earned(self) -> int:
        return sum(c.earned for c in self.cells)


class Attempt(Frozen):
    """What a check of the current task found, and what followed."""

    task: str
    ok: bool
    at: datetime
    seconds: float
    checks: tuple[CheckOutcome, ...]
    advanced_to: str | None = None  # the task the seat is on now, after a pass
    note: str = ""


class RevealedHint(Frozen):
    task: str
    number: int  # 1-based
    hint: Text
    hints_left: int


class BoardSeat(Frozen):
    seat: str
    trainees: tuple[str, ...]  # the users assigned to the seat (as on the access sheet)
    current: str | None  # None: every task done
    task_started_at: datetime | None  # None: the seat has not begun
    earned: int
    cells: tuple[TaskCell, ...]


class Board(Frozen):
    """Seats x tasks of a class's course: the trainer's live view and the results."""

    class_name: str
    name: str
    course: Course
    seats: tuple[BoardSeat, ...]
    made_at: datetime


def board_generation(settings: Settings) -> tuple[int, ...]:
    """A value that changes whenever anything a board shows may have: the results, the
    labs, the classes or the users (who sits where). Four counter reads: cheap to poll."""
    state = StateStore.open(settings)
    ResultsStore(state)  # its tables and counter exist
    counters = (COUNTER, "labs", "classes", "users")
    with state.transaction() as db:
        found = dict(
            db.execute(
                "SELECT name, value FROM counters WHERE name IN (?, ?, ?, ?)", counters
            ).fetchall()
        )
    return tuple(int(found.get(c, 0)) for c in counters)


def course_of_seat(settings: Settings, seat: str) -> str:
    """The name of the course the seat's class runs; NotFoundError when there is none."""
    klass, _, _ = _run_of(settings, seat)
    return klass.course or ""


def auto_checkpoint(number: int) -> str:
    """The automatic checkpoint at the start of task `number` (1-based): task-02 ..."""
    return f"task-{number:02d}"


def class_course(settings: Settings, klass: ClassRecord) -> Course:
    """The course the class runs; NotFoundError when it runs none."""
    if klass.course is None:
        raise NotFoundError(
            f"class {quote(klass.name)} runs no course",
            hint="create the class with a course: lab class create ... --course NAME",
        )
    return catalogue.get_course(settings, klass.course)


def seat_course(settings: Settings, seat: str) -> SeatCourse:
    """The seat's course: its tasks, each one's state, the current task and its hints."""
    klass, course, store = _run_of(settings, seat)
    progress = store.begin(klass.name, seat, course.tasks[0].id)
    results = store.results(klass.name, seat)
    cells = _cells(course, results, seat, now())
    current = course.tasks[progress.index] if progress.index < len(course.tasks) else None
    taken = cells[progress.index].hints_taken if current else 0
    return SeatCourse(
        class_name=klass.name,
        seat=seat,
        name=klass.course or "",
        course=course,
        index=progress.index,
        started_at=progress.started_at,
        cells=cells,
        hints=current.hints[:taken] if current else (),
    )


def check(settings: Settings, seat: str) -> Attempt:
    """Run the current task's checks and record the attempt; a pass moves the seat on and
    saves the next task's start. ConflictError while another check of the seat runs, or
    while the lab is busy with an operation (a reset, a restart of the task)."""
    with _seat_lock(settings, seat):
        klass, course, store = _run_of(settings, seat)
        progress = store.begin(klass.name, seat, course.tasks[0].id)
        task = _current(course, progress)
        if is_locked(settings, seat):  # a reset or a restart of the task: checks would fail
            raise ConflictError(
                f"лабораторія {seat} зараз зайнята (lab {seat} is busy: being reset or saved)",
                hint="перевірте, коли вона знову готова (check once it is ready again)",
            )
        record = StateStore.open(settings).get_lab(seat)
        outcome = checking.check_task(settings, record, course, task)
        store.add_attempt(
            klass.name,
            AttemptRecord(
                seat=seat,
                task=task.id,
                at=outcome.at,
                ok=outcome.ok,
                seconds=outcome.seconds,
                checks=outcome.checks,
            ),
        )
        attempt = Attempt(
            task=task.id,
            ok=outcome.ok,
            at=outcome.at,
            seconds=outcome.seconds,
            checks=outcome.checks,
        )
        if not outcome.ok:
            return attempt
        following = progress.index + 1
        if following >= len(course.tasks):
            store.start(klass.name, seat, following, None)
            done = "усі завдання курсу виконано (every task of the course is done)"
            return attempt.model_copy(update={"note": done})
        store.start(klass.name, seat, following, course.tasks[following].id)
        note = _save_start(settings, seat, following + 1)
        return attempt.model_copy(update={"advanced_to": course.tasks[following].id, "note": note})


def hint(settings: Settings, seat: str) -> RevealedHint:
    """Reveal the current task's next hint (recorded: the board shows hints taken)."""
    klass, course, store = _run_of(settings, seat)
    task = _current(course, store.begin(klass.name, seat, course.tasks[0].id))
    number = store.reveal_hint(klass.name, seat, task.id, len(task.hints))
    if number is None:
        raise ConflictError(
            "до цього завдання підказок більше немає (no hints are left for this task)",
            hint="перечитайте інструкцію або спитайте тренера (read the instructions again,"
            " or ask the trainer)",
        )
    return RevealedHint(
        task=task.id,
        number=number,
        hint=task.hints[number - 1],
        hints_left=len(task.hints) - number,
    )


def restart_point(course: Course, index: int, saved: set[str]) -> str | None:
    """Where task `index` (0-based) starts from: its own checkpoint if the lab has it,
    else the automatic one, else (None) the baseline."""
    task = course.tasks[index]
    if task.checkpoint is not None and task.checkpoint in saved:
        return task.checkpoint
    auto = auto_checkpoint(index + 1)
    if index > 0 and auto in saved:
        return auto
    return None


def restart_task(
    settings: Settings, seat: str, progress: Progress = quiet, *, task: str | None = None
) -> ResetRecord:
    """Put the seat's lab back to the start of its current task, or of task `task` (one it
    has reached: the current one or an earlier one), which becomes its current task again.
    Results stay (an earlier pass still counts), and the task's timer runs on."""
    klass, course, store = _run_of(settings, seat)
    at = store.begin(klass.name, seat, course.tasks[0].id)
    index = at.index if task is None else _reached(course, at, task)
    if index >= len(course.tasks):
        _current(course, at)  # every task done: says so
    chosen = course.tasks[index]
    saved = {c.name for c in resets.checkpoints(settings, seat)}
    to = restart_point(course, index, saved)
    where = f"checkpoint {to}" if to else "the baseline"
    progress(seat, f"task {index + 1} ({chosen.id}) starts again from {where}")
    record = resets.reset(settings, seat, to=to, progress=progress)
    if index != at.index:
        store.start(klass.name, seat, index, chosen.id)
    return record


def _reached(course: Course, at: SeatProgress, task: str) -> int:
    """The index of task `task`, which the seat must have reached."""
    ids = [t.id for t in course.tasks]
    if task not in ids:
        raise NotFoundError(
            f"the course has no task {quote(task)}", hint=f"its tasks: {', '.join(ids)}"
        )
    index = ids.index(task)
    if index > at.index:
        raise ConflictError(
            f"the seat has not reached task {index + 1} ({task}) yet",
            hint="a seat goes back to a task it has reached; it reaches the next by passing",
        )
    return index


def board(settings: Settings, class_name: str) -> Board:
    """Every seat of the class x every task of its course."""
    state = StateStore.open(settings)
    klass = state.get_class(class_name)
    course = class_course(settings, klass)
    results = ResultsStore(state).results(class_name)
    users = UserStore(state).list_users()
    stamp = now()
    seats = []
    for seat in klass.seats:
        progress = results.progress.get(seat)
        index = progress.index if progress else 0
        cells = _cells(course, results, seat, stamp)
        seats.append(
            BoardSeat(
                seat=seat,
                trainees=tuple(
                    sorted(u.name for u in users if u.role is Role.TRAINEE and seat in u.labs)
                ),
                current=course.tasks[index].id if index < len(course.tasks) else None,
                task_started_at=progress.started_at if progress else None,
                earned=sum(c.earned for c in cells),
                cells=cells,
            )
        )
    return Board(
        class_name=class_name,
        name=klass.course or "",
        course=course,
        seats=tuple(seats),
        made_at=stamp,
    )


CSV_HEADER = (
    "Клас",
    "Курс",
    "Робоче місце",
    "Учні",
    "№",
    "Завдання",
    "Назва",
    "Стан",
    "Спроби",
    "Підказки",
    "Перша спроба",
    "Виконано о",
    "Секунд на завданні",
    "Бали",
    "З балів",
)


def results_csv(board: Board) -> str:
    """The board as CSV, one row per seat and task: UTF-8 text starting with a byte order
    mark (spreadsheet programs then read Cyrillic right), header in Ukrainian. A text cell
    that a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) starts with `'`."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = _SafeWriter(out)
    writer.writerow(CSV_HEADER)
    for seat in board.seats:
        for number, (task, cell) in enumerate(zip(board.course.tasks, seat.cells, strict=True), 1):
            writer.writerow(
                (
                    board.class_name,
                    board.name,
                    seat.seat,
                    " ".join(seat.trainees),
                    number,
                    task.id,
                    task.title.uk,
                    STATE_WORDS[cell.state].uk,
                    cell.attempts,
                    cell.hints_taken,
                    _stamp(cell.first_at),
                    _stamp(cell.passed_at),
                    "" if cell.seconds_on_task is None else round(cell.seconds_on_task),
                    cell.earned,
                    task.points,
                )
            )
    return out.getvalue()


_FORMULA_MARKS = ("=", "+", "-", "@", "\t", "\r")


class _SafeWriter:
    """csv.writer whose text cells never start a spreadsheet formula."""

    def __init__(self, out: io.StringIO) -> None:
        self.writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: tuple[object, ...]) -> None:
        self.writer.writerow(
            f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_MARKS) else v for v in row
        )


def forget_class(settings: Settings, klass: ClassRecord, progress: Progress = quiet) -> Path | None:
    """Write the class's results out as CSV under LAB_HOME/records (0600), then forget
    them; the file written (None: the class ran no course and kept nothing)."""
    store = ResultsStore(StateStore.open(settings))
    results = store.results(klass.name)
    if klass.course is None and not results.attempts and not results.progress:
        return None
    try:
        text = results_csv(board(settings, klass.name))
    except LabError:  # the course file is gone or broken: the attempts as they are
        text = _raw_csv(results)
    folder = settings.home / "records"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{klass.name}-{now():%Y%m%dT%H%M%SZ}.csv"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    store.delete_class(klass.name)
    progress(klass.name, f"course results kept in {path}")
    return path


def _raw_csv(results: ClassResults) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = _SafeWriter(out)
    writer.writerow(("Клас", "Робоче місце", "Завдання", "Час", "Пройдено", "Секунд"))
    for a in results.attempts:
        writer.writerow(
            (results.class_name, a.seat, a.task, _stamp(a.at), int(a.ok), round(a.seconds, 1))
        )
    return out.getvalue()


def _stamp(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S")


def _run_of(settings: Settings, seat: str) -> tuple[ClassRecord, Course, ResultsStore]:
    """The class whose seat `seat` is, its course and the results; NotFoundError when
    the seat is no class's, or its class runs no course."""
    state = StateStore.open(settings)
    klass = next((k for k in state.list_classes() if seat in k.seats), None)
    if klass is None:
        raise NotFoundError(
            f"lab {quote(seat)} is no seat of a class: it has no course",
            hint="courses run on the seats of a class (lab class create ... --course NAME)",
        )
    return klass, class_course(settings, klass), ResultsStore(state)


def _current(course: Course, progress: SeatProgress) -> Task:
    if progress.index >= len(course.tasks):
        raise ConflictError(
            "усі завдання курсу виконано (every task of the course is done)",
            hint="the trainer's board shows the results",
        )
    return course.tasks[progress.index]


def _cells(
    course: Course, results: ClassResults, seat: str, stamp: datetime
) -> tuple[TaskCell, ...]:
    attempts = results.of_seat(seat)
    started = results.tasks.get(seat, {})
    cells = []
    for task in course.tasks:
        mine = [a for a in attempts if a.task == task.id]
        passed = next((a.at for a in mine if a.ok), None)
        row = started.get(task.id)
        state = TaskState.DONE if passed else TaskState.FAILING if mine else TaskState.NOT_STARTED
        cells.append(
            TaskCell(
                id=task.id,
                state=state,
                attempts=len(mine),
                hints_taken=row.hints if row else 0,
                first_at=mine[0].at if mine else None,
                passed_at=passed,
                seconds_on_task=None
                if row is None
                else max(0.0, ((passed or stamp) - row.started_at).total_seconds()),
                last=mine[-1] if mine else None,
                earned=task.points if passed else 0,
            )
        )
    return tuple(cells)


def _save_start(settings: Settings, seat: str, number: int) -> str:
    """Save the lab as the start of task `number` (1-based); what the trainee is told when
    saving failed ("" when it worked)."""
    try:
        resets.checkpoint(settings, seat, auto_checkpoint(number))
    except LabError as exc:
        return (
            f"початок завдання {number} не збережено: почати його знову поверне до"
            f" ранішої точки (the start of task {number} was not saved: {exc.message};"
            " starting it again goes back to an earlier point)"
        )
    return ""


@contextmanager
def _seat_lock(settings: Settings, seat: str) -> Iterator[None]:
    """One check of a seat at a time, across processes: an advisory flock on its own file
    (not the lab's lock, which the checkpoint taken after a pass needs)."""
    check_lab_name(seat)
    path = settings.home / "locks" / f"{seat}.course.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(
                f"the checks of seat {quote(seat)} are running already",
                hint="wait for their answer (a few seconds), then try again",
            ) from None
        yield
    finally:
        os.close(fd)
