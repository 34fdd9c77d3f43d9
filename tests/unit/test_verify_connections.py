"""The verification's testinfra commands share one SSH connection per machine (a control
socket in a private directory of the run), and go without one rather than fail when no
socket path would fit."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.software import verify_plugin


@pytest.fixture
def fresh_control_dir() -> Iterator[None]:
    verify_plugin.control_dir.cache_clear()
    yield
    found = verify_plugin.control_dir() if verify_plugin.control_dir.cache_info().currsize else None
    if found is not None and found.exists():
        found.rmdir()
    verify_plugin.control_dir.cache_clear()


def ssh_command(host: object) -> str:
    cmd, args = host.backend._build_ssh_command("true")  # type: ignore[attr-defined]
    return str(host.backend.quote(" ".join(cmd), *args))  # type: ignore[attr-defined]


def test_commands_share_a_connection_through_a_private_socket(fresh_control_dir: None) -> None:
    command = ssh_command(verify_plugin.ssh_host("srv", "/labs/a/ssh_config"))
    found = verify_plugin.control_dir()
    assert found is not None
    assert stat.S_IMODE(found.stat().st_mode) == 0o700
    assert f"-o ControlPath={found}/%C" in command
    assert "ControlMaster=auto" in command and "-F /labs/a/ssh_config" in command
    assert len(str(found / ("x" * 40))) < 108  # a Unix socket's path limit


def test_without_room_for_a_socket_path_each_command_connects_alone(
    fresh_control_dir: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    command = ssh_command(verify_plugin.ssh_host("srv2", "/labs/a/ssh_config"))
    assert verify_plugin.control_dir() is None
    assert "ControlPath" not in command
    assert list(deep.iterdir()) == []  # the directory it tried is not left behind
