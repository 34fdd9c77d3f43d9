"""CLI actions land in the audit log beside the API's: who ran which `lab` command, on what,
and how it ended; commands that only read are not recorded."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from lab.settings import Settings

ROOT = Path(__file__).parents[2]


def _lab(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LAB_HOME": str(settings.home),
        "LAB_LIBVIRT_URI": settings.libvirt_uri,
        "LAB_PREFIX": settings.prefix,
    }
    env.pop("SUDO_USER", None)
    return subprocess.run(
        [sys.executable, "-m", "lab.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _entries(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    reply = client.get("/api/v1/audit", headers=admin)
    assert reply.status_code == 200, reply.text
    entries: list[dict[str, Any]] = reply.json()
    return [e for e in entries if e["user"].startswith("cli:")]


def test_a_cli_action_is_recorded_with_user_target_and_result(
    client: TestClient, headers: dict[str, dict[str, str]], settings: Settings
) -> None:
    done = _lab(settings, "token", "revoke", "engineer")
    assert done.returncode == 0, done.stderr
    newest = _entries(client, headers["admin"])[0]
    assert newest["user"] == f"cli:{getpass.getuser()}"
    assert newest["action"] == "lab token revoke engineer"
    assert (newest["target"], newest["result"]) == ("user/engineer", "exit 0")


def test_a_failed_cli_action_is_recorded_with_its_error(
    client: TestClient, headers: dict[str, dict[str, str]], settings: Settings
) -> None:
    done = _lab(settings, "user", "assign", "nobody-here", "--lab", "x1")
    assert done.returncode == 1 and "error:" in done.stderr, done.stderr
    newest = _entries(client, headers["admin"])[0]
    assert newest["action"].startswith("lab user assign nobody-here")
    assert (newest["target"], newest["result"]) == ("user/nobody-here", "exit 1")
    assert "nobody-here" in newest["detail"]


def test_reads_and_usage_errors_are_not_recorded(
    client: TestClient, headers: dict[str, dict[str, str]], settings: Settings
) -> None:
    before = _entries(client, headers["admin"])
    assert _lab(settings, "user", "list").returncode == 0
    assert _lab(settings, "status", "--help").returncode == 0
    assert _lab(settings, "start").returncode == 2  # a usage error: nothing was done
    assert _entries(client, headers["admin"]) == before
