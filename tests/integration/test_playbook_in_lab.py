"""A tester's playbook runs inside the lab's machine, never on the host: real TCG guest.

Each hostile playbook tries a different way to run a command on Ansible's controller
(delegation, a local action, a lookup, `hosts: localhost`, connection variables, an added
host) and leaves a uniquely named marker file holding `id`'s output wherever it ran. The
marker must not exist on the host (this test process's file system) and must exist inside
the lab's machine. One lab of profiles/tiny.yaml is shared by the module.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab.access.users import AssignmentKind, Role, UserStore
from lab.labs import guest, lifecycle
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.software import stack
from lab.software.provisioning import ProvisionError, ProvisionResult

PROFILES = Path(__file__).parents[2] / "profiles"
# The real result documents of the guest's ansible-core land here (gitignored), so the
# unit tests' fixture can be refreshed from a real run.
KEEP = Path(__file__).parents[2] / "artifacts" / "guest-playbook"
NAME = "gp1"
MACHINE = "m1"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

HEAD = "- hosts: all\n  gather_facts: false\n"

ATTACKS: dict[str, str] = {
    "delegate_to": HEAD
    + """  tasks:
    - name: Run on the controller
      ansible.builtin.shell: id > {marker}
      delegate_to: localhost
""",
    "local_action": HEAD
    + """  tasks:
    - name: A local action
      local_action:
        module: ansible.builtin.shell
        cmd: id > {marker}
""",
    "lookup_pipe": HEAD
    + """  tasks:
    - name: A lookup, evaluated by the controller
      ansible.builtin.debug:
        msg: "{{{{ lookup('pipe', 'id > {marker} && cat {marker}') }}}}"
""",
    "hosts_localhost": """- hosts: localhost
  gather_facts: false
  tasks:
    - name: A play for localhost
      ansible.builtin.shell: id > {marker}
""",
    "connection_vars": HEAD
    + """  vars:
    ansible_connection: local
    ansible_host: {host}
  tasks:
    - name: Connection variables pointing at the host
      ansible.builtin.shell: id > {marker}
""",
    "add_host": HEAD
    + """  tasks:
    - name: Add the host as a machine with a local connection
      ansible.builtin.add_host:
        name: controller
        ansible_connection: local
        ansible_host: {host}
- hosts: controller
  gather_facts: false
  tasks:
    - name: Run on the added host
      ansible.builtin.shell: id > {marker}
""",
}


@pytest.fixture(scope="module")
def lab(settings: Settings) -> Iterator[LabRecord]:
    # One boot for the module; on two shared cores under TCG it can take past 300 s.
    patient = settings.model_copy(update={"boot_timeout": max(settings.boot_timeout, 900.0)})
    record = lifecycle.up(patient, PROFILES / "tiny.yaml", NAME)
    yield record
    lifecycle.down(settings, NAME)


def in_guest(settings: Settings, command: str) -> guest.CommandResult:
    return guest.run(lifecycle.guest_address(settings, NAME, MACHINE), command, timeout=120)


def host_address(record: LabRecord) -> str:
    address = record.plan.management.host_address
    assert address is not None
    return str(address.ip)


def keep(result: ProvisionResult, as_name: str) -> None:
    document = Path(result.artifacts) / f"{MACHINE}.json"
    if document.is_file():
        KEEP.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(document, KEEP / as_name)


class Attacks(NamedTuple):
    """One run of every hostile play: each attack's marker, and what the host held."""

    markers: dict[str, str]
    on_host: dict[str, str | None]
    result: ProvisionResult
    lines: list[str]


@pytest.fixture(scope="module")
def attacks(
    lab: LabRecord, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Attacks:
    """Every attack's plays in one playbook, applied once (each Ansible run in a TCG guest
    costs ~20 s of Python start-up); each test below then judges its own attack."""
    markers = {a: f"/tmp/hromada-escape-{a}-{uuid.uuid4().hex[:12]}" for a in sorted(ATTACKS)}
    playbook = tmp_path_factory.mktemp("attacks") / "attacks.yml"
    playbook.write_text(
        "".join(
            ATTACKS[a].format(marker=markers[a], host=host_address(lab)) for a in sorted(ATTACKS)
        )
    )
    lines: list[str] = []
    try:
        result = stack.apply(
            settings, NAME, playbook=playbook, progress=lambda s, m: lines.append(f"{s}: {m}")
        )
        on_host = {a: Path(m).read_text() if Path(m).exists() else None for a, m in markers.items()}
    finally:
        for marker in markers.values():
            Path(marker).unlink(missing_ok=True)
    return Attacks(markers, on_host, result, lines)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_playbook_reaching_for_its_controller_runs_inside_the_lab(
    attack: str, attacks: Attacks, settings: Settings
) -> None:
    on_host = attacks.on_host[attack]
    assert on_host is None, f"{attack}: the playbook ran on the host as {on_host!r}"
    assert attacks.result.succeeded, attacks.result
    in_lab = in_guest(settings, f"cat {attacks.markers[attack]}")
    assert in_lab.exit_code == 0, f"{attack}: no marker inside the lab: {in_lab.stderr}"
    assert in_lab.stdout.startswith("uid=0(root)"), in_lab.stdout
    assert any("in the machine" in line for line in attacks.lines), attacks.lines


def test_a_playbook_changes_the_machine_and_says_so(
    lab: LabRecord, settings: Settings, tmp_path: Path
) -> None:
    playbook = tmp_path / "release.yml"
    playbook.write_text(
        HEAD
        + """  tasks:
    - name: Write the release note
      ansible.builtin.copy:
        dest: /etc/hromada-release
        content: "2.1\\n"
        mode: "0644"
    - name: Look at it
      ansible.builtin.command: cat /etc/hromada-release
      changed_when: false
"""
    )
    lines: list[str] = []
    started = time.monotonic()
    result = stack.apply(
        settings, NAME, playbook=playbook, progress=lambda s, m: lines.append(f"{s}: {m}")
    )
    took = time.monotonic() - started
    keep(result, "changed.json")
    assert result.succeeded and result.changed == {MACHINE: 1}, result
    assert result.ok[MACHINE] == 2
    assert f"{MACHINE}: play: Write the release note (changed)" in lines, lines
    assert in_guest(settings, "cat /etc/hromada-release").stdout == "2.1\n"
    # The private directory is gone again, and the lab must be tested again.
    assert in_guest(settings, "ls -d /tmp/lab-playbook.* 2>/dev/null | wc -l").stdout == "0\n"
    assert lifecycle.get_lab(settings, NAME).verification is None
    print(f"benign playbook in the guest: {took:.1f} s")


def test_a_failing_task_is_named_by_machine_and_task(
    lab: LabRecord, settings: Settings, tmp_path: Path
) -> None:
    playbook = tmp_path / "break.yml"
    playbook.write_text(
        HEAD
        + """  tasks:
    - name: Check the registry service
      ansible.builtin.command: /bin/sh -c 'echo registry offline >&2; exit 3'
      changed_when: false
    - name: Never reached
      ansible.builtin.command: "true"
"""
    )
    with pytest.raises(ProvisionError) as caught:
        stack.apply(settings, NAME, playbook=playbook, machine=MACHINE)
    message = caught.value.message
    assert f"machine '{MACHINE}'" in message and "task 'Check the registry service'" in message
    assert "registry offline" in message and "Never reached" not in message
    assert f"lab apply {NAME} break.yml" in caught.value.hint
    document = Path(caught.value.artifacts) / f"{MACHINE}.json"
    assert document.is_file()
    KEEP.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(document, KEEP / "failed.json")


def test_a_playbook_that_is_not_one_fails_with_ansibles_word(
    lab: LabRecord, settings: Settings, tmp_path: Path
) -> None:
    playbook = tmp_path / "broken.yml"
    playbook.write_text("- hosts: all\n  tasks:\n    - name: x\n      no_such_module: {}\n")
    with pytest.raises(ProvisionError) as caught:
        stack.apply(settings, NAME, playbook=playbook)
    assert "no_such_module" in caught.value.message, caught.value.message


def _wait(client: TestClient, location: str, headers: dict[str, str], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        op = client.get(location, headers=headers).json()
        if op["status"] in ("succeeded", "failed", "canceled"):
            return op
        time.sleep(1)
    raise AssertionError(f"operation {location} still running after {seconds} s")


def test_through_the_api_a_testers_delegation_stays_in_the_lab(
    lab: LabRecord, settings: Settings
) -> None:
    users = UserStore.open(settings)
    users.add("gpqa", Role.TESTER)
    users.assign("gpqa", AssignmentKind.LAB, NAME)
    headers = {"Authorization": f"Bearer {users.create_token('gpqa')}"}
    marker = f"/tmp/hromada-escape-api-{uuid.uuid4().hex[:12]}"
    body = ATTACKS["delegate_to"].format(marker=marker, host=host_address(lab))
    try:
        with TestClient(create_app(settings)) as client:
            r = client.post(
                f"/api/v1/labs/{NAME}/apply",
                params={"kind": "playbook", "filename": "escape.yml"},
                content=body.encode(),
                headers=headers,
            )
            assert r.status_code == 202, r.text
            op = _wait(client, r.headers["Location"], headers, 600)
        on_host = Path(marker).read_text() if Path(marker).exists() else None
    finally:
        Path(marker).unlink(missing_ok=True)
    assert on_host is None, f"the uploaded playbook ran on the host as {on_host!r}"
    assert op["status"] == "succeeded", (op["error"], op["hint"])
    assert op["result"]["changed"] == {MACHINE: 1}
    assert in_guest(settings, f"cat {marker}").stdout.startswith("uid=0(root)")
