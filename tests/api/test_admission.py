"""A class that cannot fit on the host is refused at once, with the arithmetic, and
nothing of it is made (lab.placement): real host memory, libvirt's test driver."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab.driver.connection import Driver
from lab.host import hosts
from lab.host.facts import gather_facts
from lab.labs import lifecycle
from lab.labs.records import LabStatus
from lab.placement.place import CapacityError
from lab.settings import Settings
from lab.store.state import StateStore
from tests.api.conftest import PROFILES, _make_lab, users_and_labs

# A machine as large as a profile allows: no host this suite runs on holds many of them.
HUGE = (PROFILES / "tiny.yaml").read_text().replace("memory: 512MiB", "memory: 64GiB")


def test_a_class_that_does_not_fit_is_refused_with_the_shortfall(tmp_path: Path) -> None:
    catalogue = tmp_path / "profiles"
    catalogue.mkdir()
    shutil.copy(PROFILES / "tiny.yaml", catalogue / "tiny.yaml")
    (catalogue / "huge.yaml").write_text(HUGE.replace("name: tiny", "name: huge"))
    settings = Settings(
        home=tmp_path / "home", libvirt_uri="test:///default", profiles_dir=catalogue
    )
    seats = math.ceil(gather_facts(tmp_path).memory_available_bytes / (64 << 30)) + 1
    headers = {"Authorization": f"Bearer {users_and_labs(settings)['admin']}"}
    with TestClient(create_app(settings)) as client:
        body = {"profile": "huge", "name": "big", "seats": seats}
        refused = client.post("/api/v1/classes", json=body, headers=headers)
        assert refused.status_code == 409, refused.text
        error = refused.json()
        assert f"class 'big' of {seats} seats does not fit" in error["error"]
        # Each seat: its 64 GiB and what QEMU holds beside it (which accelerator: the host's).
        assert re.search(rf"{seats} × 64\.\d GiB of memory \(free: local \d", error["error"])
        assert "lab host check" in error["hint"]
        assert "big" not in {k.name for k in StateStore.open(settings).list_classes()}
        assert client.get("/api/v1/operations", headers=headers).json() == []


def test_the_host_shows_staff_the_same_arithmetic(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    answer = client.get("/api/v1/host", headers=headers["engineer"])
    assert answer.status_code == 200, answer.text
    room = answer.json()
    assert room["host"] == "local"
    expected = (
        room["memory_available_bytes"]
        - room["memory_promised_bytes"]
        - room["memory_reserve_bytes"]
    )
    assert room["memory_free_bytes"] == max(0, expected)
    assert room["memory_reserve_bytes"] == 1 << 30 and room["disk_free_bytes"] > 0
    # The recorded labs have no machines running on the test driver: nothing is resident,
    # so each running lab still owes its whole need.
    assert room["memory_promised_bytes"] > 0
    for role in ("trainer", "trainee", "tester"):
        assert client.get("/api/v1/host", headers=headers[role]).status_code == 403


def test_staff_see_every_host_with_its_labs_and_a_draining_one_takes_no_lab(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / "home", libvirt_uri="test:///default")
    tokens = users_and_labs(settings)
    engineer = {"Authorization": f"Bearer {tokens['engineer']}"}
    with TestClient(create_app(settings)) as client:
        answer = client.get("/api/v1/hosts", headers=engineer)
        assert answer.status_code == 200, answer.text
        [local] = answer.json()
        assert local["name"] == "local" and local["uri"] == "test:///default"
        assert local["reachable"] and not local["draining"] and local["cpus"] >= 1
        recorded = {lab.name for lab in StateStore.open(settings).list_labs()}
        assert set(local["labs"]) == recorded and recorded

        hosts.drain(settings, "local")
        assert client.get("/api/v1/hosts", headers=engineer).json()[0]["draining"]
        body = {"profile": "tiny", "name": "late"}
        refused = client.post("/api/v1/labs", json=body, headers=engineer)
        assert refused.status_code == 409, refused.text
        assert "host local is draining" in refused.json()["error"]
        assert StateStore.open(settings).find_lab("late") is None


def test_a_stopped_lab_that_no_longer_fits_is_not_started(tmp_path: Path) -> None:
    """A stopped lab holds no memory: its start is weighed like a new lab's, and refused
    with the shortfall when the host has no room for it; it stays stopped, nothing runs."""
    settings = Settings(home=tmp_path / "home", libvirt_uri="test:///default", prefix="hlt-")
    huge = tmp_path / "huge.yaml"
    huge.write_text(HUGE)
    plan = _make_lab(settings, "big", 7, huge, LabStatus.STOPPED).plan
    with pytest.raises(CapacityError) as info:
        lifecycle.start(settings, "big")
    assert re.search(
        r"lab 'big' does not fit: it needs 64\.\d GiB of memory \(free: local", info.value.message
    )
    assert "lab host check" in (info.value.hint or "")
    assert StateStore.open(settings).get_lab("big").status is LabStatus.STOPPED
    with Driver.open(settings.libvirt_uri) as driver:
        assert not any(driver.domain_exists(m.domain) for m in plan.machines)
