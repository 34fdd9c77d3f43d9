"""Hostile values in profiles and requests: short, escaped messages; `extends` reads only
regular YAML files under a size cap, where it is allowed to; nothing gives a 500."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import typer
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lab.cli import profile as profile_cli
from lab.errors import InvalidError
from lab.profile import ProfileError, load_profile, load_profile_text
from lab.settings import Settings
from tests.api.conftest import PROFILES

Headers = dict[str, dict[str, str]]
MAX_PROFILE_BYTES = 1 << 20  # lab.profile.loader's cap
RLO = "\u202e"


def _tiny() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((PROFILES / "tiny.yaml").read_text())
    return data


def _many_unknown_networks(count: int) -> bytes:
    """~200 KB: `count` networks and as many NICs naming networks that are not there
    (each message once listed every network: quadratic)."""
    data = _tiny()
    data["networks"] = [
        {"name": f"{RLO}n{i:04d}\n" + "y" * 40, "cidr": f"10.{i // 256}.{i % 256}.0/24"}
        for i in range(count)
    ]
    data["machines"] = [
        {"name": "m1", "image": "debian-12", "nics": [{"network": f"x{i}"} for i in range(count)]}
    ]
    return yaml.safe_dump(data, allow_unicode=True).encode()


def _check_said(said: str, limit: int) -> None:
    assert len(said) < limit, len(said)
    assert RLO not in said
    assert "\n" + "y" * 40 not in said


def test_a_large_bad_profile_gets_a_short_escaped_answer(
    client: TestClient, headers: Headers
) -> None:
    body = _many_unknown_networks(1500)
    assert 150_000 < len(body) < MAX_PROFILE_BYTES
    answer = client.post("/api/v1/profiles/validate", content=body, headers=headers["engineer"])
    assert answer.status_code == 422
    assert len(answer.content) < 60_000, len(answer.content)
    found = answer.json()
    _check_said(found["error"], 40_000)
    for problem in found["problems"]:
        _check_said(problem["message"] + problem["path"], 400)


def test_unknown_keys_are_quoted_short_and_escaped() -> None:
    data = _tiny()
    data[f"evil{RLO}\nkey" + "k" * 5000] = 1
    with pytest.raises(ProfileError) as info:
        load_profile_text(yaml.safe_dump(data, allow_unicode=True), "p.yaml")
    _check_said(str(info.value), 1000)
    for problem in info.value.problems:
        assert "\n" not in problem.path + problem.message
        assert len(problem.path) <= 300 and len(problem.message) <= 300


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    profile_cli.register(app)
    return app


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/shadow", "/etc/passwd", "/proc/self"])
def test_validate_does_not_follow_extends_to_any_file(
    target: str, tmp_path: Path, cli: typer.Typer
) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(f"extends: {target}\n" + (PROFILES / "tiny.yaml").read_text())
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["validate", str(profile)])
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    said = result.stdout + result.stderr
    assert "root:" not in said  # /etc/passwd, /etc/shadow never printed line by line
    assert "extends" in said and len(said) < 2000


def test_extends_reads_only_regular_files_under_the_cap(tmp_path: Path) -> None:
    fifo = tmp_path / "_fifo.yaml"
    os.mkfifo(fifo)
    big = tmp_path / "_big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_PROFILE_BYTES)
    for base, why in ((fifo, "not a regular file"), (big, "larger than")):
        child = tmp_path / "child.yaml"
        child.write_text(f"extends: {base.name}\n" + (PROFILES / "tiny.yaml").read_text())
        with pytest.raises(ProfileError, match=why):
            load_profile(child)  # a FIFO never blocks it
    with pytest.raises(InvalidError, match="not a regular file"):
        load_profile(fifo)
    with pytest.raises(InvalidError, match="not a regular file"):
        load_profile("/dev/zero")


def test_an_upload_nested_deep_with_extends_is_a_located_problem(
    client: TestClient, headers: Headers
) -> None:
    body = b"extends: _common.yaml\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n"
    answer = client.post("/api/v1/profiles/validate", content=body, headers=headers["engineer"])
    assert answer.status_code == 422, answer.text
    assert "nested more than" in answer.text


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+14:00",
        "9999-12-31T23:59:59+00:00",
        "2999-01-01T08:00:00+02:00",
    ],
)
def test_far_future_schedules_are_refused_not_500(
    at: str, client: TestClient, headers: Headers, settings: Settings
) -> None:
    answer = client.post(
        "/api/v1/classes/c1/schedules", json={"at": at}, headers=headers["trainer"]
    )
    assert answer.status_code == 422, answer.text
    assert "days ahead" in answer.json()["error"]


# -- unknown roles are located problems -------------------------------------------------

_WITH_ROLES = (
    (PROFILES / "tiny.yaml")
    .read_text()
    .replace("    vcpus: 1\n", "    vcpus: 1\n    roles: [common, no-such-role]\n")
)


def test_validate_locates_unknown_roles(tmp_path: Path, cli: typer.Typer) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(_WITH_ROLES)
    line = _WITH_ROLES.splitlines().index("    roles: [common, no-such-role]") + 1
    result = CliRunner().invoke(cli, ["validate", str(profile)])
    assert result.exit_code == 1
    said = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert f"{profile}:{line}:" in said
    assert "machines[0].roles[1]: unknown role 'no-such-role'" in said
    assert "'common'" not in said


def test_the_api_locates_unknown_roles(client: TestClient, headers: Headers) -> None:
    answer = client.post(
        "/api/v1/profiles/validate", content=_WITH_ROLES.encode(), headers=headers["tester"]
    )
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["problems"]
    assert problem["path"] == "machines[0].roles[1]"
    assert problem["message"].startswith("unknown role 'no-such-role'")
    assert "/" not in problem["message"]  # no server path
