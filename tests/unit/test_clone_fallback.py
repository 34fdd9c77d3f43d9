"""A clone whose memory state cannot be restored (another QEMU, another CPU model: not
something a test machine can cause) boots from the template's disk and says so."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from lab.baselines import resets
from lab.baselines.generations import Baseline
from lab.errors import LabError
from lab.labs.plan import plan_lab
from lab.profile import load_profile
from lab.settings import Settings
from lab.templates import clones, restore

PROFILES = Path(__file__).parents[2] / "profiles"


def test_a_failed_restore_boots_the_machine_from_the_template_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = load_profile(PROFILES / "tiny.yaml")
    plan = plan_lab(spec, "c1", "hlt-", tmp_path, IPv4Network("10.250.9.0/24"))
    baseline = Baseline(
        generation="template-t", created_at=datetime.now(UTC), memory=("m1",), template="t"
    )
    done: list[str] = []

    def cannot_restore(*_args: Any) -> None:
        raise LabError("unsupported configuration: CPU model Nehalem is not available")

    monkeypatch.setattr(restore, "restore", cannot_restore)
    monkeypatch.setattr(restore, "boot", lambda *a: done.append(f"booted {a[3].name}"))
    monkeypatch.setattr(resets, "power_off", lambda _d, m: done.append(f"off {m.name}"))
    lines: list[str] = []
    note = clones._start(
        Settings(home=tmp_path),
        object(),  # type: ignore[arg-type]
        plan,
        baseline,
        spec,
        lambda subject, message: lines.append(f"{subject}: {message}"),
    )
    assert note == "booted from the template's disks: m1"
    assert done == ["off m1", "booted m1"]
    assert any("memory restore failed (unsupported configuration" in line for line in lines)
    assert lines[-1] == "m1: booted from the template's disk, its own identity set"
