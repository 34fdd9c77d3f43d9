"""`lab checkpoint`, `lab reset --to`, `lab class reset` and `lab class checkpoint` through
typer's test runner, with the use cases replaced by fakes that record what they were asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from lab.baselines import generations, resets
from lab.baselines.records import ResetMode, ResetRecord
from lab.classes import classes
from lab.classes.classes import SeatOutcome
from lab.cli import classes as classes_cli
from lab.cli.classes import age
from lab.errors import LabError, NotFoundError

MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What each faked use case was called with, in order."""
    calls: list[tuple[str, Any]] = []

    def checkpoint(_s: object, lab: str, name: str, _p: object = None) -> generations.Baseline:
        calls.append(("checkpoint", (lab, name)))
        return generations.Baseline(generation="g", created_at=MOMENT, memory=("a", "b"), name=name)

    def listed(_s: object, lab: str) -> list[resets.CheckpointInfo]:
        calls.append(("checkpoints", lab))
        return [
            resets.CheckpointInfo(
                name="after-task-1",
                created_at=datetime.now(UTC) - timedelta(minutes=12, seconds=5),
                memory=("a",),
                size=300 * 2**20,
            )
        ]

    def delete(_s: object, lab: str, name: str) -> None:
        calls.append(("delete", (lab, name)))
        if name == "nope":
            raise NotFoundError(f"lab '{lab}' has no checkpoint 'nope'", hint="its checkpoints: x")

    def reset(_s: object, lab: str, **kwargs: Any) -> ResetRecord:
        calls.append(("reset", (lab, kwargs["cold"], kwargs["to"])))
        return ResetRecord(
            lab=lab, mode=ResetMode.MEMORY, ok=True, seconds=4.2, started_at=MOMENT, to=kwargs["to"]
        )

    def class_reset(_s: object, name: str, **kwargs: Any) -> list[SeatOutcome]:
        calls.append(("class-reset", (name, kwargs["cold"], kwargs["to"])))
        return [SeatOutcome(seat=f"{name}-01", ok=True, reset=reset(_s, f"{name}-01", **kwargs))]

    def class_checkpoint(_s: object, name: str, checkpoint: str, _p: object) -> list[SeatOutcome]:
        calls.append(("class-checkpoint", (name, checkpoint)))
        return [
            SeatOutcome(seat=f"{name}-01", ok=True),
            SeatOutcome(seat=f"{name}-02", ok=False, error="lab 'c1-02' is stopped", hint="h"),
        ]

    monkeypatch.setattr(resets, "checkpoint", checkpoint)
    monkeypatch.setattr(resets, "checkpoints", listed)
    monkeypatch.setattr(resets, "delete_checkpoint", delete)
    monkeypatch.setattr(resets, "reset", reset)
    monkeypatch.setattr(classes, "reset", class_reset)
    monkeypatch.setattr(classes, "checkpoint", class_checkpoint)
    return calls


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    classes_cli.register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    error = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, error


def test_capture_list_and_delete(app: typer.Typer, asked: list[tuple[str, Any]]) -> None:
    code, out, _ = invoke(app, "checkpoint", "s-01", "after-task-1")
    assert code == 0 and "lab s-01: checkpoint after-task-1 (a, b)" in out
    code, out, _ = invoke(app, "checkpoint", "s-01", "--list")
    assert code == 0 and "after-task-1" in out and "12 min" in out and "300 MiB" in out
    code, out, _ = invoke(app, "checkpoint", "s-01", "after-task-1", "--delete")
    assert code == 0 and "checkpoint after-task-1 deleted" in out
    assert asked == [
        ("checkpoint", ("s-01", "after-task-1")),
        ("checkpoints", "s-01"),
        ("delete", ("s-01", "after-task-1")),
    ]


def test_a_checkpoint_command_without_a_name_or_an_unknown_one_fails(
    app: typer.Typer, asked: list[tuple[str, Any]]
) -> None:
    _, _, error = invoke(app, "checkpoint", "s-01")
    assert isinstance(error, LabError) and "--list" in error.hint
    _, _, error = invoke(app, "checkpoint", "s-01", "x", "--list")
    assert isinstance(error, LabError)
    _, _, error = invoke(app, "checkpoint", "s-01", "nope", "--delete")
    assert isinstance(error, NotFoundError) and error.hint == "its checkpoints: x"
    assert asked == [("delete", ("s-01", "nope"))]


def test_reset_to_a_checkpoint(app: typer.Typer, asked: list[tuple[str, Any]]) -> None:
    code, out, _ = invoke(app, "reset", "s-01", "--to", "after-task-1")
    assert code == 0 and "lab s-01: ready, memory reset to checkpoint after-task-1" in out
    code, out, _ = invoke(app, "reset", "--class", "c1", "--to", "t2", "--cold")
    assert code == 0 and "class c1 reset to checkpoint t2" in out
    code, out, _ = invoke(app, "class", "reset", "c1", "--to", "t2")
    assert code == 0 and "class c1 reset to checkpoint t2" in out and "memory to t2" in out
    code, out, _ = invoke(app, "class", "reset", "c1")
    assert code == 0 and out.rstrip().endswith("class c1 reset")
    assert [a for a in asked if a[0] == "class-reset"] == [
        ("class-reset", ("c1", True, "t2")),
        ("class-reset", ("c1", False, "t2")),
        ("class-reset", ("c1", False, None)),
    ]
    assert asked[0] == ("reset", ("s-01", False, "after-task-1"))


def test_a_class_checkpoint_reports_every_seat(
    app: typer.Typer, asked: list[tuple[str, Any]]
) -> None:
    code, out, _ = invoke(app, "class", "checkpoint", "c1", "after-task-1")
    assert code == 1 and "c1-01" in out and "FAILED" in out
    assert asked == [("class-checkpoint", ("c1", "after-task-1"))]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-3, "0 s"),
        (45, "45 s"),
        (60, "1 min"),
        (725, "12 min"),
        (3 * 3600 + 5, "3 h"),
        (2 * 86400, "2 d"),
    ],
)
def test_age(seconds: int, shown: str) -> None:
    assert age(MOMENT - timedelta(seconds=seconds), MOMENT) == shown
