"""`lab image import` through typer's test runner: what it stores and the stanza it prints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lab.cli import image as image_cli
from lab.errors import InvalidError
from lab.settings import get_settings


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    image_cli.register(app)
    yield app
    get_settings.cache_clear()


def test_import_prints_what_was_stored_and_the_stanza(app: typer.Typer, tmp_path: Path) -> None:
    disk = tmp_path / "Web Server.img"
    data = bytearray(os.urandom(1024 * 1024))
    data[510:512] = b"\x55\xaa"
    disk.write_bytes(bytes(data))
    result = CliRunner().invoke(app, ["image", "import", str(disk)])
    assert result.exit_code == 0, result.output
    first, *rest = result.stdout.splitlines()
    assert first.startswith("web-server ") and first.endswith("1.0 MiB")
    (machine,) = yaml.safe_load("\n".join(rest))
    assert machine["image"] == "web-server" and machine["appliance"]["firmware"] == "bios"


def test_import_of_a_damaged_disk_says_why(app: typer.Typer, tmp_path: Path) -> None:
    fake = tmp_path / "fake.vmdk"
    fake.write_bytes(b"\x00" * 4096)
    result = CliRunner().invoke(app, ["image", "import", str(fake), "--name", "fake"])
    # `lab`'s main prints a LabError with its hint; the group lets it through.
    assert isinstance(result.exception, InvalidError)
    assert "not a valid vmdk image" in result.exception.message
