"""`lab validate`, `lab profile show`, `lab profile schema` through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lab.cli import profile as profile_cli

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "profiles"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    profile_cli.register(app)
    return app


def invoke(app: typer.Typer, *args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stdout, result.stderr


def test_validate_samples(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "validate", ROOT / "profiles" / "tiny.yaml", ROOT / "profiles")
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == (
        f"ok  {ROOT / 'profiles' / 'tiny.yaml'} (Найменша лабораторія (тести), 1 machine)"
    )
    assert len(lines) == 1 + len(list((ROOT / "profiles").glob("*.yaml")))


def test_validate_reports_every_problem(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "community:\n  name: Bad\n  title: x\n  oblast: y\n  kind: rural\n  colour: red\n",
        encoding="utf-8",
    )
    code, stdout, stderr = invoke(app, "validate", ROOT / "profiles" / "tiny.yaml", bad)
    assert code == 1
    assert stdout.startswith("ok  ")
    assert f"{bad}:2:9 community.name: 'Bad' is not a valid name" in stderr
    assert f"{bad}:6:3 community.colour: unknown key 'colour'" in stderr
    assert f"{bad}:1:1 machines: a profile needs at least one machine" in stderr
    assert "hint:" in stderr


@pytest.mark.parametrize(
    "name", ["cycle-a.yaml", "extends-missing.yaml", "child-of-broken.yaml", "absent.yaml"]
)
def test_validate_broken_fixtures_exit_1(app: typer.Typer, name: str) -> None:
    code, _, stderr = invoke(app, "validate", FIXTURES / name)
    assert code == 1
    assert stderr.startswith("error:")


def test_validate_not_utf8_and_empty(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes("community:\n  title: Київ\n".encode("cp1251"))
    (tmp_path / "b.yaml").write_bytes(b"")
    code, _, stderr = invoke(app, "validate", tmp_path)
    assert code == 1
    assert "a.yaml:2:10: the file is not UTF-8" in stderr
    assert "b.yaml:1:1: the file is empty" in stderr


def test_validate_needs_files(app: typer.Typer, tmp_path: Path) -> None:
    code, _, stderr = invoke(app, "validate", tmp_path)
    assert code == 1
    assert "no profile files" in stderr


def test_show_prints_resolved_yaml(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "profile", "show", FIXTURES / "child.yaml")
    assert code == 0
    data = yaml.safe_load(stdout)
    assert data["community"]["title"] == "Базова громада"
    assert [m["name"] for m in data["machines"]] == ["ws", "srv"]
    assert data["machines"][0]["memory"] == "1GiB"
    assert "extends" not in data


def test_show_invalid_exits_1(app: typer.Typer) -> None:
    code, stdout, stderr = invoke(app, "profile", "show", FIXTURES / "cycle-a.yaml")
    assert code == 1
    assert stdout == ""
    assert "extends cycle" in stderr


def test_schema(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "profile", "schema")
    assert code == 0
    schema = json.loads(stdout)
    assert {"community", "networks", "machines", "accounts", "tests"} <= set(schema["properties"])
