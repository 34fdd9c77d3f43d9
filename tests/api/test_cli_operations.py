"""What the CLI does is an operation, beside the API's: real `lab` commands that need no
guest, read back through the API (`GET /api/v1/operations`, its events): kind, target, the
CLI's user, status, error and progress; a target busy with another operation is refused
with what to do; Ctrl-C cancels; a killed `lab` leaves an operation the orphan sweep
fails."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lab.classes.classes import SeatOutcome
from lab.images import ImageStore
from lab.operations.recording import recorded
from lab.operations.store import OperationStore
from lab.settings import Settings
from tests.cli_runs import ROOT, lab_env, run_lab

Headers = dict[str, dict[str, str]]
USER = f"cli:{getpass.getuser()}"


def _newest(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    reply = client.get("/api/v1/operations", headers=admin)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()[0]
    return found


def _events(client: TestClient, admin: dict[str, str], op: dict[str, Any]) -> list[str]:
    """The operation's progress lines, as its event stream sends them."""
    reply = client.get(op["events_url"], headers=admin)
    assert reply.status_code == 200, reply.text
    lines = []
    for block in reply.text.split("\n\n"):
        if "event: progress" in block:
            data = json.loads(block.split("data: ", 1)[1])
            lines.append(f"{data['subject']}: {data['message']}")
    return lines


def test_an_image_removed_from_the_cli_is_an_operation(
    client: TestClient, headers: Headers, settings: Settings, tmp_path: Path
) -> None:
    disk = tmp_path / "spare.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "4M"], check=True)
    ImageStore(settings).import_file(disk, "spare", lambda _: None)
    done = run_lab(settings, "image", "rm", "spare")
    assert done.returncode == 0, done.stderr
    op = _newest(client, headers["admin"])
    assert (op["kind"], op["target"], op["created_by"]) == ("image-rm", "image/spare", USER)
    assert (op["status"], op["error"]) == ("succeeded", "")
    assert _events(client, headers["admin"], op) == [
        "operation: image-rm image/spare: running",
        "operation: image-rm image/spare: succeeded",
    ]


def test_a_failing_cli_action_is_a_failed_operation_with_its_error(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    done = run_lab(settings, "start", "no-such-lab")
    assert done.returncode == 1 and "no lab named 'no-such-lab'" in done.stderr
    op = _newest(client, headers["admin"])
    assert (op["kind"], op["target"], op["status"]) == ("start", "lab/no-such-lab", "failed")
    assert op["error"] == "no lab named 'no-such-lab'" and "lab list" in op["hint"]
    assert _events(client, headers["admin"], op)[-1] == (
        "operation: start lab/no-such-lab: failed: no lab named 'no-such-lab'"
    )


def test_down_and_reconcile_are_operations_with_their_progress(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    assert run_lab(settings, "down", "gone-already").returncode == 0
    op = _newest(client, headers["admin"])
    assert (op["kind"], op["target"], op["status"]) == ("down", "lab/gone-already", "succeeded")
    assert op["result"] == []  # nothing was there to remove
    done = run_lab(settings, "reconcile")
    assert done.returncode == 0, done.stderr
    op = _newest(client, headers["admin"])
    assert (op["kind"], op["target"], op["status"]) == ("reconcile", "labs", "succeeded")
    assert op["created_by"] == USER and set(op["result"]) >= {"removed", "kept"}


def test_a_target_busy_with_another_operation_is_refused_saying_what_to_do(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    busy = OperationStore.open(settings).create("reset", "lab/mine", "admin")  # alive: ours
    done = run_lab(settings, "stop", "mine")
    assert done.returncode == 1
    assert f"operation {busy.id} (reset) on lab/mine has not finished" in done.stderr
    assert "wait for it to finish" in done.stderr and "run this again" in done.stderr
    assert _newest(client, headers["admin"])["id"] == busy.id  # nothing else recorded


def test_a_killed_cli_leaves_an_operation_the_orphan_sweep_fails(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    """The process dies inside the operation (SIGKILL: nothing of it runs any more); the
    next command on the same target sweeps it first, and is not refused."""
    program = textwrap.dedent(
        """
        import os, signal
        from lab.cli.acting import operation
        from lab.settings import get_settings
        with operation(get_settings(), "down", "lab/killed") as progress:
            progress("lab", "halfway")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run(
        [sys.executable, "-c", program], env=lab_env(settings), cwd=ROOT, check=False
    )
    assert killed.returncode == -9
    op = _newest(client, headers["admin"])
    assert (op["target"], op["status"], op["progress"]) == ("lab/killed", "running", "lab: halfway")
    assert run_lab(settings, "down", "killed").returncode == 0
    swept = client.get(op["url"], headers=headers["admin"]).json()
    assert swept["status"] == "failed" and "stopped before it finished" in swept["error"]
    assert _newest(client, headers["admin"])["status"] == "succeeded"


def test_ctrl_c_cancels_and_failed_seats_fail(settings: Settings) -> None:
    store = OperationStore.open(settings)
    with pytest.raises(KeyboardInterrupt), recorded(settings, "up", "lab/x", USER, print):
        raise KeyboardInterrupt
    op = store.list_operations()[0]
    assert (op.status, op.error) == ("canceled", "interrupted (Ctrl-C) while it ran")
    with recorded(settings, "class-reset", "class/c1", USER, print) as progress:
        progress.result([SeatOutcome(seat="c1-01", ok=True), SeatOutcome(seat="c1-02", ok=False)])
    op = store.list_operations()[0]
    assert op.status == "failed" and op.error.startswith("1 seat(s) failed: c1-02")
