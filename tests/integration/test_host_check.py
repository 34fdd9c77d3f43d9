"""`lab host check` against the real libvirtd of the test namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_host_check_names_the_accelerator_and_why(lab_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli", "host", "check"],
        env={**lab_env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "libvirt" in result.stdout and "QEMU" in result.stdout
    if Path("/sys/module/kvm_pvm").exists():
        # This machine kind: KVM runs in PVM mode, which stock guest kernels do not survive.
        assert "TCG" in result.stdout and "PVM" in result.stdout
