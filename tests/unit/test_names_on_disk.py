"""A name is checked before anything touches the file system, in every command.

`lab down ""` once removed the whole labs/ directory, `lab down ../../victim` a
directory outside LAB_HOME, and lock files were made outside it too. Here every command
that takes a lab or class name gets names that are not a lab's; none may create, change
or remove a file (beyond the state database it opens), inside LAB_HOME or outside.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import lab.cli.classes
import lab.cli.labs
import lab.cli.software
import lab.cli.users
from lab.errors import InvalidError, LabError
from lab.labs import deployment, lifecycle, locks
from lab.labs.locks import is_locked, lab_lock
from lab.settings import Settings
from lab.store.state import StateStore

# ABSOLUTE stands for an absolute path (a directory of the test's own): the code before
# these checks removed what `labs_dir / NAME` named, and for an absolute NAME that is
# NAME itself, so never a real directory here, even when run against old code.
BAD = ["", ".", "..", "../../victim", "../locks", "a/b", "ABSOLUTE", "UPPER", "x" * 40, "a\nb"]
PLAYBOOK = "site.yml"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    made = Settings(home=home, libvirt_uri="test:///default", prefix="hlt-")
    for kept in ("keep-1", "keep-2"):
        (made.labs_dir / kept / "keys").mkdir(parents=True)
        (made.labs_dir / kept / "keys" / "id_ed25519").write_text("secret")
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "precious").write_text("data")
    (tmp_path / PLAYBOOK).write_text("- hosts: all\n  tasks: []\n")
    StateStore.open(made)  # the database exists before; commands may open it
    return made


def _absolute(name: str, tmp_path: Path) -> str:
    return str(tmp_path / "victim") if name == "ABSOLUTE" else name


def _tree(root: Path) -> dict[str, float]:
    """Every path under `root` with its modification time; the state database aside."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            path = Path(dirpath) / entry
            if not path.name.startswith("state.db"):
                found[str(path.relative_to(root))] = path.lstat().st_mtime
    return found


def _app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    for module in (lab.cli.labs, lab.cli.software, lab.cli.classes, lab.cli.users):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
        module.register(app)
    return app


def _commands(name: str, playbook: Path) -> list[list[str]]:
    return [
        ["down", name],
        ["status", name],
        ["start", name],
        ["stop", name],
        ["ssh", name, "m1"],
        ["baseline", name],
        ["reset", name],
        ["reset", "--cold", name],
        ["provision", name],
        ["apply", name, str(playbook)],
        ["test", name],
        ["baseline", "--class", name],
        ["reset", "--class", name],
        ["class", "status", name],
        ["class", "delete", name],
        ["class", "schedules", name],
        ["class", "schedule", name, "--at", "2999-01-01T08:00+02:00"],
        ["class", "create", str(playbook), "--name", name, "--seats", "1"],
    ]


@pytest.mark.parametrize("name", BAD)
def test_no_command_touches_the_file_system_for_a_bad_name(
    name: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _absolute(name, tmp_path)
    app = _app(settings, monkeypatch)
    before = _tree(tmp_path)
    for args in _commands(name, tmp_path / PLAYBOOK):
        result = CliRunner().invoke(app, args)
        assert result.exit_code != 0, (args, result.stdout)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            assert isinstance(result.exception, LabError), (args, result.exception)
        assert _tree(tmp_path) == before, args


def test_down_of_an_empty_name_keeps_every_lab(settings: Settings) -> None:
    with pytest.raises(InvalidError, match="not a valid lab name"):
        lifecycle.down(settings, "")
    assert sorted(p.name for p in settings.labs_dir.iterdir()) == ["keep-1", "keep-2"]


def test_down_of_a_path_outside_lab_home_removes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(InvalidError):
        lifecycle.down(settings, "../../victim")
    assert (tmp_path / "victim" / "precious").read_text() == "data"
    assert not (tmp_path / "victim.lock").exists()
    assert not (settings.home / "victim.lock").exists()


@pytest.mark.parametrize("name", BAD)
def test_locks_and_teardown_refuse_bad_names(name: str, settings: Settings, tmp_path: Path) -> None:
    name = _absolute(name, tmp_path)
    before = _tree(tmp_path)
    with pytest.raises(InvalidError), lab_lock(settings, name):
        pass
    with pytest.raises(InvalidError):
        is_locked(settings, name)
    with pytest.raises(InvalidError):
        deployment.teardown(None, name, settings.prefix, settings.labs_dir)  # type: ignore[arg-type]
    assert _tree(tmp_path) == before


def test_the_names_lock_is_not_a_labs(settings: Settings) -> None:
    with lab_lock(settings, locks.NAMES):
        assert not is_locked(settings, "allocation")
    assert (settings.home / "locks" / f"{locks.NAMES}.lock").exists()
