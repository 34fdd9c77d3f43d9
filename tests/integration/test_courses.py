"""A class runs a course on real guests: a trainee works over SSH, the checks (run from the
host side) go from failing, with what they found, to passing; hints are recorded; a seat put
back to the start of a task fails its check again while the class keeps the earlier pass.

One class of one seat of the browser tests' `classroom` profile, running their
`first-steps` course (tests/browser/courses/), serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.classes import classes
from lab.courses import runs
from lab.errors import InvalidError
from lab.labs import guest, lifecycle
from lab.settings import Settings

pytestmark = pytest.mark.integration

ROOM = Path(__file__).parents[1] / "browser"
CLASS = "cs"
SEAT = "cs-01"


@pytest.fixture(scope="module")
def course_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"profiles_dir": ROOM / "profiles", "courses_dir": ROOM / "courses"}
    )


@pytest.fixture(scope="module")
def seat(course_settings: Settings) -> Iterator[str]:
    record, outcomes = classes.create(
        course_settings,
        ROOM / "profiles" / "classroom.yaml",
        CLASS,
        1,
        course="first-steps",
    )
    assert all(o.ok for o in outcomes), outcomes
    assert all(o.ok for o in classes.baseline(course_settings, CLASS))
    yield record.seats[0]
    classes.delete(course_settings, CLASS)


def as_trainee(settings: Settings, seat: str, command: str) -> str:
    """Run `command` on the seat's m1 as the trainee would: logged in as `trainee` over SSH."""
    admin = lifecycle.guest_address(settings, seat, "m1")
    addr = admin.model_copy(update={"user": "trainee"})
    client = guest.connect(addr)
    try:
        result = guest.run_on(client, addr, command, 60)
    finally:
        client.close()
    assert result.exit_code == 0, result
    return result.stdout


def cell(settings: Settings, task: str) -> runs.TaskCell:
    board = runs.board(settings, CLASS)
    (row,) = board.seats
    return next(c for c in row.cells if c.id == task)


def test_a_course_that_does_not_fit_its_profile_is_refused(
    course_settings: Settings, tmp_path: Path
) -> None:
    broken = (ROOM / "courses" / "first-steps.yaml").read_text(encoding="utf-8")
    # The first task about a machine the profile lacks; a check of two kinds.
    broken = broken.replace("machine: m1", "machine: m9", 1)
    broken = broken.replace("type: directory", "type: directory\n        service: smbd", 1)
    (tmp_path / "broken.yaml").write_text(broken, encoding="utf-8")
    settings = course_settings.model_copy(update={"courses_dir": tmp_path})
    with pytest.raises(InvalidError) as refused:
        classes.create(settings, ROOM / "profiles" / "classroom.yaml", "cz", 1, course="broken")
    text = str(refused.value.message)
    assert "broken.yaml:16:14 tasks[0].machine: unknown machine 'm9'" in text, text
    assert "broken.yaml:48:9 tasks[1].checks[0]: a check has exactly one" in text, text
    assert "cz" not in {k.name for k in classes.list_classes(settings)}
    assert not [lab for lab in lifecycle.list_labs(settings) if lab.name.startswith("cz")]


def test_a_check_says_what_it_found_then_passes_once_the_trainee_did_the_task(
    course_settings: Settings, seat: str
) -> None:
    s = course_settings
    failed = runs.check(s, seat)
    assert not failed.ok and failed.task == "report"
    (found,) = failed.checks
    assert "/home/trainee/zvity/plan.txt" in found.message.uk, found
    assert found.message.en and "/home/trainee/zvity/plan.txt" in found.message.en

    hint = runs.hint(s, seat)
    assert "mkdir" in hint.hint.uk and hint.hints_left == 1
    assert cell(s, "report").hints_taken == 1
    assert cell(s, "report").state == "failing"

    as_trainee(s, seat, "mkdir zvity && echo 'Бюджет 2027' > zvity/plan.txt")
    passed = runs.check(s, seat)
    assert passed.ok and passed.advanced_to == "share-folder", passed
    assert cell(s, "report").state == "done"
    names = {c.name for c in resets.checkpoints(s, seat)}
    assert "task-02" in names, names

    # The next task's check fails with what it found: the folder is there, not writable.
    second = runs.check(s, seat)
    assert not second.ok and second.task == "share-folder"
    assert "users" in second.checks[0].message.uk, second.checks[0]


def test_a_seat_put_back_to_a_task_start_fails_again_and_keeps_the_earlier_pass(
    course_settings: Settings, seat: str
) -> None:
    s = course_settings
    as_trainee(s, seat, "chmod g+w zvity")
    done = runs.check(s, seat)
    assert done.ok and done.advanced_to == "nightly-copy", done
    attempts = cell(s, "share-folder").attempts

    runs.restart_task(s, seat, task="share-folder")
    view = runs.seat_course(s, seat)
    assert view.current is not None and view.current.id == "share-folder"
    # The start of the task: the first task's work is there, the second's is not.
    assert "Бюджет 2027" in as_trainee(s, seat, "cat zvity/plan.txt")
    again = runs.check(s, seat)
    assert not again.ok and again.task == "share-folder"
    kept = cell(s, "share-folder")
    assert kept.state == "done" and kept.passed_at is not None
    assert kept.attempts == attempts + 1
