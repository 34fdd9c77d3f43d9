"""Course runs: the results store, the use cases (checks and checkpoints faked), the board
and its CSV."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest

from lab.classes import classes
from lab.courses import checking, runs
from lab.courses.outcomes import TaskOutcome
from lab.courses.results import AttemptRecord, ResultsStore
from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.labs.locks import lab_lock
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.store.state import StateStore, now
from tests.api.conftest import _make_lab
from tests.course_fakes import (
    PROFILES,
    Fakes,
    add_course_class,
    course_settings,
    install_fakes,
    outcome,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = course_settings(tmp_path)
    add_course_class(settings, "k", ("k-01", "k-02"))
    _make_lab(settings, "k-01", 1)
    _make_lab(settings, "k-02", 2)
    return settings


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return install_fakes(monkeypatch)


def test_results_store_keeps_progress_attempts_and_hints(settings: Settings) -> None:
    store = ResultsStore(StateStore.open(settings))
    before = store.generation()
    first = store.begin("k", "k-01", "make-folder")
    assert first.index == 0
    assert store.begin("k", "k-01", "make-folder") == first  # begun once
    assert store.generation() != before  # every write moves the counter
    found = outcome("make-folder", False)
    store.add_attempt(
        "k",
        AttemptRecord(
            seat="k-01", task="make-folder", at=found.at, ok=False, seconds=1.5, checks=found.checks
        ),
    )
    assert store.reveal_hint("k", "k-01", "make-folder", 2) == 1
    assert store.reveal_hint("k", "k-01", "make-folder", 2) == 2
    assert store.reveal_hint("k", "k-01", "make-folder", 2) is None
    results = store.results("k")
    assert results.attempts[0].checks == found.checks
    assert results.tasks["k-01"]["make-folder"].hints == 2
    assert store.results("k", "k-02").attempts == ()
    store.delete_class("k")
    assert store.results("k").attempts == ()


def test_a_pass_advances_and_saves_the_next_start(settings: Settings, fakes: Fakes) -> None:
    attempt = runs.check(settings, "k-01")
    assert attempt.ok and attempt.advanced_to == "own-folder" and attempt.note == ""
    assert fakes.calls == ["check k-01 make-folder", "checkpoint k-01 task-02"]
    runs.check(settings, "k-01")
    # Every task's start is kept: the trainer may put the seat back to an earlier one.
    assert fakes.saved == {"task-02", "task-03"}
    runs.restart_task(settings, "k-01")  # to reload the seat below: it is on task 3
    seat = runs.seat_course(settings, "k-01")
    assert seat.current is not None and seat.index == 2
    assert [c.state for c in seat.cells] == ["done", "done", "not-started"]
    assert seat.earned == 2 + 3


def test_a_seat_goes_back_to_an_earlier_task_it_has_reached(
    settings: Settings, fakes: Fakes
) -> None:
    runs.check(settings, "k-01")
    runs.check(settings, "k-01")  # on task 3; task-02 and task-03 saved
    with pytest.raises(NotFoundError):
        runs.restart_task(settings, "k-01", task="no-such-task")
    runs.restart_task(settings, "k-01", task="own-folder")
    assert fakes.reset_to[-1] == "task-02"
    seat = runs.seat_course(settings, "k-01")
    assert seat.current is not None and seat.current.id == "own-folder"
    assert seat.cells[1].state == "done"  # the earlier pass still counts
    runs.restart_task(settings, "k-01", task="make-folder")
    assert fakes.reset_to[-1] is None  # the first task starts from the baseline
    with pytest.raises(ConflictError):  # not reached (again) yet
        runs.restart_task(settings, "k-01", task="own-folder")


def test_a_failed_check_is_recorded_and_stays(settings: Settings, fakes: Fakes) -> None:
    fakes.passes = False
    attempt = runs.check(settings, "k-01")
    assert not attempt.ok and attempt.advanced_to is None
    assert attempt.checks[0].message.uk == "теки немає"
    seat = runs.seat_course(settings, "k-01")
    assert seat.index == 0 and seat.cells[0].state == "failing" and seat.cells[0].attempts == 1


def test_a_failed_save_still_counts(settings: Settings, fakes: Fakes) -> None:
    fakes.save_fails = True
    attempt = runs.check(settings, "k-01")
    assert attempt.ok and attempt.advanced_to == "own-folder"
    assert "not saved" in attempt.note and "no space" in attempt.note
    assert runs.seat_course(settings, "k-01").index == 1


def test_the_last_pass_ends_the_course(settings: Settings, fakes: Fakes) -> None:
    for _ in range(3):
        runs.check(settings, "k-01")
    seat = runs.seat_course(settings, "k-01")
    assert seat.current is None and seat.earned == 2 + 3 + 1
    with pytest.raises(ConflictError):
        runs.check(settings, "k-01")
    with pytest.raises(ConflictError):
        runs.hint(settings, "k-01")


def test_restart_picks_task_checkpoint_then_auto_then_baseline(
    settings: Settings, fakes: Fakes
) -> None:
    runs.restart_task(settings, "k-01")  # first task: the baseline
    runs.check(settings, "k-01")  # on own-folder now; task-02 saved
    runs.restart_task(settings, "k-01")
    fakes.saved.add("own-start")  # the task's own checkpoint wins
    runs.restart_task(settings, "k-01")
    fakes.saved.clear()  # nothing saved: the baseline
    runs.restart_task(settings, "k-01")
    assert fakes.reset_to == [None, "task-02", "own-start", None]


def test_results_survive_a_restart_and_the_timer_runs_on(settings: Settings, fakes: Fakes) -> None:
    fakes.passes = False
    runs.check(settings, "k-01")
    started = runs.seat_course(settings, "k-01").started_at
    runs.restart_task(settings, "k-01")
    seat = runs.seat_course(settings, "k-01")
    assert seat.cells[0].attempts == 1 and seat.started_at == started


def test_hints_in_order_then_none_left(settings: Settings, fakes: Fakes) -> None:
    first = runs.hint(settings, "k-01")
    second = runs.hint(settings, "k-01")
    assert (first.number, first.hint.en, first.hints_left) == (1, "The mkdir command", 1)
    assert (second.number, second.hint.uk, second.hints_left) == (2, "Спробуйте mkdir -p", 0)
    with pytest.raises(ConflictError, match="підказок більше немає"):
        runs.hint(settings, "k-01")
    assert [h.uk for h in runs.seat_course(settings, "k-01").hints] == [
        "Команда mkdir",
        "Спробуйте mkdir -p",
    ]
    runs.check(settings, "k-01")  # own-folder has no hints
    with pytest.raises(ConflictError):
        runs.hint(settings, "k-01")


def test_a_second_check_of_a_seat_is_refused_while_one_runs(
    settings: Settings, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside: list[str] = []

    def nested(_settings: Settings, record: LabRecord, *_: object) -> TaskOutcome:
        inside.append(record.name)
        if record.name == "k-01":
            with pytest.raises(ConflictError, match="running already"):
                runs.check(settings, "k-01")
            runs.check(settings, "k-02")  # another seat is not held up
        return outcome("make-folder", False)

    monkeypatch.setattr(checking, "check_task", nested)
    runs.check(settings, "k-01")
    assert inside == ["k-01", "k-02"]
    runs.check(settings, "k-01")  # free again


def test_no_check_while_the_lab_is_busy(settings: Settings, fakes: Fakes) -> None:
    with lab_lock(settings, "k-01"), pytest.raises(ConflictError, match="busy"):
        runs.check(settings, "k-01")
    assert fakes.calls == []
    assert runs.check(settings, "k-01").ok


def test_no_course_is_not_found(settings: Settings, fakes: Fakes) -> None:
    with pytest.raises(NotFoundError):
        runs.seat_course(settings, "elsewhere")
    StateStore.open(settings).add_class(
        add_course_class(settings, "plain", ("plain-01",)).model_copy(
            update={"name": "plain2", "seats": ("plain2-01",), "course": None}
        )
    )
    with pytest.raises(NotFoundError, match="runs no course"):
        runs.seat_course(settings, "plain2-01")


def test_board_and_csv(settings: Settings, fakes: Fakes) -> None:
    from lab.access.users import AssignmentKind, Role, UserStore

    users = UserStore.open(settings)
    users.add("olena", Role.TRAINEE)
    users.assign("olena", AssignmentKind.LAB, "k-01")
    runs.hint(settings, "k-01")
    runs.check(settings, "k-01")
    fakes.passes = False
    runs.check(settings, "k-01")
    board = runs.board(settings, "k")
    one, two = board.seats
    assert one.trainees == ("olena",) and one.current == "own-folder" and one.earned == 2
    assert one.cells[0].hints_taken == 1 and one.cells[0].passed_at is not None
    assert one.cells[1].state == "failing" and one.cells[1].seconds_on_task is not None
    assert two.current == "make-folder" and two.task_started_at is None and two.earned == 0
    text = runs.results_csv(board)
    assert text.startswith("\ufeffКлас,Курс,Робоче місце")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 1 + 2 * 3
    assert rows[1][:9] == [
        "k",
        "share",
        "k-01",
        "olena",
        "1",
        "make-folder",
        "Створіть теку",
        "виконано",
        "1",
    ]
    assert rows[2][7] == "не пройдено" and rows[4][7] == "не розпочато"


def test_create_refuses_a_course_of_another_profile(settings: Settings) -> None:
    other = settings.courses_dir / "elsewhere.yaml"
    other.write_text(
        (settings.courses_dir / "share.yaml")
        .read_text()
        .replace("profile: tiny", "profile: pair")
        .replace("machine: m1", "machine: a"),  # pair's first machine
        encoding="utf-8",
    )
    with pytest.raises(InvalidError, match=r"'pair'.*'tiny'"):
        classes.create(settings, PROFILES / "tiny.yaml", "n", 1, course="elsewhere")
    with pytest.raises(NotFoundError):
        classes.create(settings, PROFILES / "tiny.yaml", "n", 1, course="nothing")
    assert [k.name for k in classes.list_classes(settings)] == ["k"]


def test_deleting_the_class_keeps_its_results_as_csv(settings: Settings, fakes: Fakes) -> None:
    runs.check(settings, "k-01")
    said: list[str] = []
    klass = classes.get_class(settings, "k")
    path = runs.forget_class(settings, klass, lambda _s, m: said.append(m))
    assert path is not None and path.parent == settings.home / "records"
    assert path.name.startswith("k-") and path.suffix == ".csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "make-folder" in path.read_text(encoding="utf-8") and str(path) in said[0]
    assert ResultsStore(StateStore.open(settings)).results("k").attempts == ()
    assert now()


def test_results_csv_never_starts_a_spreadsheet_formula() -> None:
    from lab.courses.model import Course

    course = Course.model_validate(
        {
            "title": "Курс",
            "audience": "Усі",
            "profile": "tiny",
            "tasks": [
                {
                    "id": "t1",
                    "title": '=HYPERLINK("http://example.invalid","клац")',
                    "machine": "m1",
                    "instructions": "Зробіть.",
                    "checks": [{"file": "/tmp/x"}],
                }
            ],
        }
    )
    cell = runs.TaskCell(
        id="t1",
        state=runs.TaskState.NOT_STARTED,
        attempts=0,
        hints_taken=0,
        first_at=None,
        passed_at=None,
        seconds_on_task=None,
        last=None,
        earned=0,
    )
    seat = runs.BoardSeat(
        seat="k-01",
        trainees=("@olena",),
        current="t1",
        task_started_at=None,
        earned=0,
        cells=(cell,),
    )
    board = runs.Board(class_name="k", name="c", course=course, seats=(seat,), made_at=now())
    (_, row) = list(csv.reader(io.StringIO(runs.results_csv(board).lstrip("\ufeff"))))
    assert row[6].startswith("'=HYPERLINK") and row[3] == "'@olena"
