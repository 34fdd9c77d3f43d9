"""`lab class board|results|check|hint|restart-task` through typer's test runner, with the
checks and checkpoints faked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lab.cli import classes as classes_cli
from lab.settings import Settings
from tests.api.conftest import _make_lab
from tests.course_fakes import Fakes, add_course_class, course_settings, install_fakes


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = course_settings(tmp_path)
    add_course_class(settings, "k", ("k-01",))
    _make_lab(settings, "k-01", 1)
    monkeypatch.setattr(classes_cli, "get_settings", lambda: settings)
    return settings


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    return install_fakes(monkeypatch)


def invoke(*args: str | Path) -> tuple[int, str]:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    classes_cli.register(app)
    result = CliRunner().invoke(app, ["class", *[str(a) for a in args]])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def test_check_hint_board_results(settings: Settings, fakes: Fakes, tmp_path: Path) -> None:
    fakes.passes = False
    code, said = invoke("check", "k-01")
    assert code == 1 and "теки немає" in said and "not passed" in said
    code, said = invoke("hint", "k-01")
    assert code == 0 and "hint 1 of task make-folder: Команда mkdir" in said and "1 left" in said
    fakes.passes = True
    code, said = invoke("check", "k-01")
    assert code == 0 and "next task: own-folder" in said
    code, said = invoke("board", "k")
    assert code == 0 and "k-01" in said and "2/6" in said
    code, said = invoke("board", "k", "--json")
    assert json.loads(said)["seats"][0]["current"] == "own-folder"
    code, said = invoke("results", "k", "--csv", tmp_path / "k.csv")
    assert code == 0 and (tmp_path / "k.csv").read_text(encoding="utf-8").startswith("\ufeffКлас")
    code, said = invoke("results", "k", "--pdf", tmp_path / "k.pdf", "--lang", "en")
    assert code == 0 and (tmp_path / "k.pdf").read_bytes().startswith(b"%PDF")
    code, said = invoke("restart-task", "k-01")
    assert code == 0 and "back at checkpoint task-02" in said
