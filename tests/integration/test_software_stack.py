"""The software stack end to end, offline: profiles/stack.yaml (common, web-portal, database,
file-server on one TCG guest) is brought up from its prepared image, provisioned by
Ansible, verified by testinfra; a stopped service fails `lab test` by name; a second
provisioning changes nothing; a tester applies a .deb and a playbook.

`make image` prepared the profile (its role image) before the namespace existed; inside
the test namespace there is no route anywhere but the lab networks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.errors import ConflictError
from lab.labs import guest, lifecycle
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.software import stack as software_stack
from lab.software.provisioning import ProvisionError

PROFILES = Path(__file__).parents[2] / "profiles"
LAB = [sys.executable, "-m", "lab.cli"]
NAME = "st1"  # the session's stack lab (conftest: stack_lab)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def stack(stack_lab: LabRecord) -> LabRecord:
    return stack_lab  # up, provisioned and verified once for the session (conftest)


def in_guest(settings: Settings, command: str) -> guest.CommandResult:
    return guest.run(lifecycle.guest_address(settings, NAME, "srv"), command, timeout=120)


def lab_test(lab_env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAB, "test", NAME, *extra],
        env=lab_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_namespace_has_no_route_out() -> None:
    # What makes "offline" true for everything below: no default route, and every route
    # (if any) is a directly attached lab bridge (no gateway), so nothing reaches a mirror.
    rows = [line.split() for line in Path("/proc/net/route").read_text().splitlines()[1:]]
    assert all(row[1] != "00000000" for row in rows), "a default route exists"
    assert all(row[2] == "00000000" for row in rows), "a route through a gateway exists"


def test_up_provisions_and_verifies_the_lab(stack: LabRecord) -> None:
    assert stack.provisioned_at is not None
    assert stack.verification is not None and stack.verification.passed
    assert stack.plan.machines[0].image.startswith("debian-12.roles-")


def test_accounts_have_their_labs_passwords_for_console_logins(
    stack: LabRecord, settings: Settings
) -> None:
    shadow = in_guest(settings, "sudo getent shadow trainee operator | cut -d: -f2").stdout.split()
    assert len(shadow) == 2 and all(h.startswith("$6$") for h in shadow), shadow


def test_lab_test_passes_with_junit_and_json(
    stack: LabRecord, lab_env: dict[str, str], tmp_path: Path
) -> None:
    proc = lab_test(lab_env, "--junit", str(tmp_path / "r.xml"), "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is True
    roles = {r["role"] for r in report["results"]}
    assert {"common", "web-portal", "database", "file-server", "profile"} <= roles
    assert all(r["machine"] == "srv" for r in report["results"])


def test_a_second_provisioning_changes_nothing(stack: LabRecord, settings: Settings) -> None:
    result = software_stack.provision(settings, NAME)
    assert result.succeeded
    assert result.total_changed == 0, result.changed
    # Provisioning again means testing again before a baseline.
    with pytest.raises(ConflictError, match="not verified"):
        resets.baseline(settings, NAME)
    assert software_stack.test(settings, NAME).passed


def test_a_stopped_service_fails_lab_test_by_name(
    stack: LabRecord, settings: Settings, lab_env: dict[str, str]
) -> None:
    assert in_guest(settings, "sudo systemctl stop nginx").exit_code == 0
    try:
        proc = lab_test(lab_env)
        assert proc.returncode == 1, proc.stdout
        assert "web-portal" in proc.stdout and "FAILED" in proc.stdout
        # A lab whose tests fail is not class-ready: no baseline is taken from it.
        with pytest.raises(ConflictError, match="not verified"):
            resets.baseline(settings, NAME)
    finally:
        assert in_guest(settings, "sudo systemctl start nginx").exit_code == 0
    assert lab_test(lab_env).returncode == 0


def test_apply_installs_a_package_under_test(
    stack: LabRecord, settings: Settings, build_deb: Callable[[str, str], Path]
) -> None:
    deb = build_deb("hromada-probe", "1.0")
    result = software_stack.apply(settings, NAME, package=deb, machine="srv")
    assert result.succeeded and result.total_changed >= 1
    got = in_guest(settings, "dpkg-query -W -f '${Version}' hromada-probe")
    assert got.stdout == "1.0"


def test_a_failing_task_names_machine_and_task(
    stack: LabRecord, settings: Settings, tmp_path: Path
) -> None:
    playbook = tmp_path / "break.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Check the registry service\n"
        "      ansible.builtin.command: /bin/sh -c 'echo registry offline >&2; exit 3'\n"
        "      changed_when: false\n"
    )
    with pytest.raises(ProvisionError) as caught:
        software_stack.apply(settings, NAME, playbook=playbook)
    message = caught.value.message
    assert "machine 'srv'" in message and "task 'Check the registry service'" in message
    assert "registry offline" in message
    assert "lab apply st1 break.yml" in caught.value.hint  # it ran inside srv


def test_no_password_reaches_a_log(stack: LabRecord, settings: Settings) -> None:
    # Staff passwords travel to Ansible (inventory) and to the tests (context, 0600);
    # no run log, event or report may show them.
    lab_dir = settings.labs_dir / NAME
    secrets = json.loads((lab_dir / "keys" / "passwords.json").read_text()).values()
    assert oct((lab_dir / "keys" / "passwords.json").stat().st_mode & 0o777) == "0o600"
    logs = [
        *(lab_dir / "ansible" / "artifacts").rglob("*"),
        *(lab_dir / "verify").rglob("junit.xml"),
        *(lab_dir / "verify").rglob("pytest.log"),
    ]
    files = [p for p in logs if p.is_file()]
    assert len(files) > 5
    for path in files:
        text = path.read_text(errors="replace")
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"a lab password appears in {path}"
