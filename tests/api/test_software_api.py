"""The software endpoints' input handling: uploads checked before any work starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ansible_runner
import pytest
from fastapi.testclient import TestClient

from lab.settings import Settings
from lab.software import guest_playbook, guest_results, provisioning

Headers = dict[str, dict[str, str]]
APPLY = "/api/v1/labs/mine/apply"


def test_apply_refuses_a_package_that_is_not_a_deb(client: TestClient, headers: Headers) -> None:
    r = client.post(
        APPLY,
        params={"kind": "package", "filename": "tool.rpm"},
        content=b"x",
        headers=headers["tester"],
    )
    assert r.status_code == 422 and "not a .deb" in r.json()["error"]


def test_apply_refuses_path_tricks_in_the_file_name(client: TestClient, headers: Headers) -> None:
    for name in ("../../etc/passwd.deb", "a/b.deb", ".hidden.deb", "x" * 200 + ".deb"):
        r = client.post(
            APPLY,
            params={"kind": "package", "filename": name},
            content=b"x",
            headers=headers["tester"],
        )
        assert r.status_code == 422, name


def test_apply_refuses_an_empty_body_and_an_unknown_machine(
    client: TestClient, headers: Headers
) -> None:
    params = {"kind": "package", "filename": "tool_1.0_all.deb"}
    r = client.post(APPLY, params=params, content=b"", headers=headers["tester"])
    assert r.status_code == 422 and r.json()["hint"]
    r = client.post(
        APPLY, params={**params, "machine": "nope"}, content=b"x", headers=headers["tester"]
    )
    assert r.status_code == 404


def test_a_lab_never_tested_has_no_results(client: TestClient, headers: Headers) -> None:
    r = client.get("/api/v1/labs/mine/tests/latest/junit", headers=headers["tester"])
    assert r.status_code == 404 and "not been tested" in r.json()["error"]


def test_apply_refuses_a_playbook_that_is_not_a_small_text_before_storing_it(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    for body in (b"#" * (guest_playbook.MAX_PLAYBOOK + 1), b"\xff\xfe- hosts: all\n", b"a\0b"):
        r = client.post(
            APPLY,
            params={"kind": "playbook", "filename": "big.yml"},
            content=body,
            headers=headers["tester"],
        )
        assert r.status_code == 422 and r.json()["hint"], r.text
    assert not (settings.labs_dir / "mine" / "uploads" / "big.yml").exists()


def test_an_uploaded_playbook_goes_into_the_machine_never_to_the_hosts_ansible(
    client: TestClient,
    headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
    wait_op: Callable[[str, dict[str, str]], dict[str, Any]],
) -> None:
    # No guest here (libvirt's test driver): the one function that talks to a machine is
    # replaced; the host's Ansible is made to fail loudly if anything calls it.
    seen: list[tuple[str, guest_playbook.Playbook, Any]] = []

    def in_machine(
        addr: Any, machine: str, playbook: guest_playbook.Playbook, inventory: Any, *_: Any
    ) -> guest_results.MachineRun:
        seen.append((machine, playbook, inventory))
        return guest_results.MachineRun(machine=machine, status="successful", changed=1, ok=2)

    def host_ansible(*_: Any, **__: Any) -> None:
        raise AssertionError("the host's Ansible was asked to run a tester's playbook")

    monkeypatch.setattr(guest_playbook, "run_in_machine", in_machine)
    monkeypatch.setattr(provisioning, "run_plays", host_ansible)
    monkeypatch.setattr(ansible_runner, "run", host_ansible)
    body = (
        "- hosts: localhost\n  tasks:\n"
        "    - ansible.builtin.command: id\n      delegate_to: localhost\n"
    )
    r = client.post(
        APPLY,
        params={"kind": "playbook", "filename": "escape.yml"},
        content=body.encode(),
        headers=headers["tester"],
    )
    assert r.status_code == 202, r.text
    op = wait_op(r.headers["Location"], headers["tester"])
    assert op["status"] == "succeeded", op
    assert op["result"]["changed"] == {"m1": 1} and op["result"]["ok"] == {"m1": 2}
    ((machine, playbook, inventory),) = seen
    assert machine == "m1" and playbook == guest_playbook.Playbook(name="escape.yml", text=body)
    assert inventory["all"]["hosts"]["m1"]["ansible_connection"] == "local"
