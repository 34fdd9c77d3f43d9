"""`lab catalogue` and `lab profile show`'s software through typer's test runner, over the
fixture profiles of tests/unit/fixtures/catalogue."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from lab.catalogue import loader
from lab.cli import catalogue as catalogue_cli
from lab.cli import profile as profile_cli
from lab.cli.audit import is_action

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    folder = tmp_path / "profiles"
    shutil.copytree(FIXTURES, folder)
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAB_PROFILES_DIR", str(folder))
    from lab.settings import get_settings

    get_settings.cache_clear()
    loader.forget()
    made = typer.Typer()
    catalogue_cli.register(made)
    profile_cli.register(made)
    yield made
    get_settings.cache_clear()


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_matrix_table_and_json(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "catalogue")
    assert code == 0
    assert "АСКОД" in stdout and "2.17.4" in stdout and "recommended stack: stack" in stdout
    assert "invalid:" in stdout and "broken" in stdout
    code, stdout, _ = invoke(app, "catalogue", "--json")
    data = json.loads(stdout)
    assert set(data) == {"recommended", "profiles", "products", "invalid"}
    code, stdout, _ = invoke(app, "catalogue", "--kind", "package", "--json")
    assert [p["product"] for p in json.loads(stdout)["products"]] == ["curl", "nginx"]


def test_product_permissions_formats(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "catalogue", "product", "m.e.doc")
    assert code == 0 and "M.E.Doc" in stdout and "ended" in stdout
    code, stdout, _ = invoke(app, "catalogue", "product", "libreoffice", "--json")
    assert {e["profile"] for e in json.loads(stdout)["entries"]} == {"stack", "town", "village"}
    code, stdout, _ = invoke(app, "catalogue", "permissions", "--json")
    assert [e["product"] for e in json.loads(stdout)["entries"]] == ["M.E.Doc", "АСКОД"]
    code, stdout, _ = invoke(app, "catalogue", "formats")
    assert code == 0 and "docx" in stdout


def test_report(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "catalogue", "report")
    assert code == 0
    assert "runs the recommended stack as it is" in stdout  # town
    assert "missing: Debian GNU/Linux 12.5" in stdout
    code, stdout, _ = invoke(app, "catalogue", "report", "village", "--json")
    data = json.loads(stdout)
    assert [c["profile"] for c in data["communities"]] == ["village"]
    assert data["communities"][0]["extra"][0]["product"] == "M.E.Doc"


def test_report_without_a_recommended_profile(app: typer.Typer, tmp_path: Path) -> None:
    stack = tmp_path / "profiles" / "stack.yaml"
    stack.write_text(stack.read_text().replace("recommended: true\n", ""), encoding="utf-8")
    from lab.errors import ConflictError

    with pytest.raises(ConflictError) as caught:
        invoke(app, "catalogue", "report")
    assert "recommended: true" in caught.value.hint


def test_export(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "all.csv"
    code, _, _ = invoke(app, "catalogue", "export", "--csv", str(target))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 11
    code, stdout, _ = invoke(app, "catalogue", "export")
    assert stdout.startswith("profile,community,title")
    code, stdout, _ = invoke(app, "catalogue", "export", "--json")
    assert len(json.loads(stdout)) == 11


def test_profile_show_lists_software_as_comments(app: typer.Typer) -> None:
    code, stdout, _ = invoke(app, "profile", "show", str(FIXTURES / "stack.yaml"))
    assert code == 0
    assert yaml.safe_load(stdout)["recommended"] is True  # still one YAML document
    assert "# recommended stack: yes" in stdout
    assert "# software of srv:" in stdout
    line = next(x for x in stdout.splitlines() if "АСКОД" in x and x.startswith("#"))
    assert "3.0.12" in line and "document-flow" in line and "granted" in line


def test_the_catalogue_is_not_audited() -> None:
    for argv in (["catalogue"], ["catalogue", "--json"], ["catalogue", "report", "x"]):
        assert not is_action(argv)
    assert not is_action(["catalogue", "export", "--csv", "f.csv"])
