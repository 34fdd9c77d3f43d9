"""`lab template ...`, `lab up --template` and `lab class create --template` through typer's
test runner, with the template use cases replaced by fakes that record what they were
asked (tests/template_fakes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lab.cli import classes as classes_cli
from lab.cli import labs as labs_cli
from lab.cli import templates as templates_cli
from lab.errors import ConflictError, LabError, NotFoundError
from lab.labs import lifecycle
from lab.settings import Settings
from tests.template_fakes import TemplateFakes, fake_class_create, install_template_fakes


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TemplateFakes:
    settings = Settings(home=tmp_path / "home", libvirt_uri="test:///default", prefix="hlt-")
    for module in (labs_cli, classes_cli, templates_cli):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    return install_template_fakes(monkeypatch, settings)


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    for module in (labs_cli, classes_cli, templates_cli):
        module.register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    error = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, error


def test_create_list_show_and_delete(app: typer.Typer, fakes: TemplateFakes) -> None:
    code, out, _ = invoke(app, "template", "create", "demo", "--name", "t3")
    assert code == 0 and "template t3 of lab demo (tiny): 1 machines, memory of m1" in out
    assert "lab up --template t3 --name NAME" in out
    code, out, _ = invoke(app, "template", "list")
    assert code == 0 and "t1" in out and "t3" in out and "1.5 GiB" in out and "c1-01" in out
    code, out, _ = invoke(app, "template", "show", "t1")
    assert code == 0 and "source lab:  demo" in out and "used by:     c1-01, c1-02" in out
    code, out, _ = invoke(app, "template", "delete", "t2")
    assert code == 0 and "template t2 deleted" in out
    assert fakes.asked == [
        ("create", ("demo", "t3")),
        ("list", ()),
        ("get", "t1"),
        ("delete", "t2"),
    ]


def test_no_templates_says_how_to_make_one(app: typer.Typer, fakes: TemplateFakes) -> None:
    fakes.templates.clear()
    code, out, _ = invoke(app, "template", "list")
    assert code == 0 and "lab template create LAB --name T" in out


def test_deleting_one_in_use_or_unknown_fails(app: typer.Typer, fakes: TemplateFakes) -> None:
    _, _, error = invoke(app, "template", "delete", "t1")
    assert isinstance(error, ConflictError) and "c1-01" in error.message
    _, _, error = invoke(app, "template", "show", "nope")
    assert isinstance(error, NotFoundError)


def test_up_from_a_template(app: typer.Typer, fakes: TemplateFakes) -> None:
    code, out, _ = invoke(app, "up", "--template", "t1", "--name", "n1")
    assert code == 0 and "lab n1 is up:" in out and "lab ssh n1 m1" in out
    assert fakes.asked == [("clone", ("t1", "n1", None, "local"))]
    code, _, _ = invoke(app, "up", "--template", "t1", "--name", "n2", "--host", "lab2")
    assert code == 0 and fakes.asked[-1] == ("clone", ("t1", "n2", None, "lab2"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("up",), "not both and not neither"),
        (("up", "profiles/tiny.yaml", "--template", "t1", "--name", "n1"), "not both"),
        (("up", "--template", "t1"), "needs --name"),
    ],
)
def test_up_needs_a_profile_or_a_template_and_a_name(
    app: typer.Typer,
    fakes: TemplateFakes,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    said: str,
) -> None:
    monkeypatch.setattr(lifecycle, "up", pytest.fail)
    _, _, error = invoke(app, *args)
    assert isinstance(error, LabError) and said in error.message and "--template" in error.hint
    assert fakes.asked == []


def test_a_class_from_a_template(
    app: typer.Typer, fakes: TemplateFakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_class_create(monkeypatch)
    code, out, _ = invoke(app, "class", "create", "--template", "t1", "--name", "k", "--seats", "2")
    assert code == 0 and "class k: 2 seats of tiny" in out
    code, _, _ = invoke(app, "class", "create", "p.yaml", "--name", "k", "--seats", "1")
    assert code == 0
    assert asked == [
        (None, "k", 2, {"course": None, "template": "t1"}),
        (Path("p.yaml"), "k", 1, {"course": None, "template": None}),
    ]
    for args in (("p.yaml", "--template", "t1"), ()):
        _, _, error = invoke(app, "class", "create", *args, "--name", "k", "--seats", "1")
        assert isinstance(error, LabError) and "--template" in error.hint
    assert len(asked) == 2
