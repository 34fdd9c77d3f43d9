"""API tests: the app against a throw-away LAB_HOME and libvirt's test driver, no guests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from lab.access.users import AssignmentKind, Role, UserStore
from lab.classes.records import ClassRecord
from lab.labs.plan import plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now

PROFILES = Path(__file__).parents[2] / "profiles"


def _make_lab(
    settings: Settings,
    name: str,
    subnet: int = 0,
    profile_path: Path = PROFILES / "tiny.yaml",
    status: LabStatus = LabStatus.RUNNING,
) -> LabRecord:
    """Record a lab in the state store (nothing in libvirt: reads need no more)."""
    profile = load_profile(profile_path)
    stamp = now()
    management = IPv4Network(f"10.250.{subnet}.0/24")
    record = LabRecord(
        name=name,
        profile="tiny",
        profile_path=str(profile_path),
        status=status,
        plan=plan_lab(profile, name, settings.prefix, settings.labs_dir, management),
        created_at=stamp,
        updated_at=stamp,
    )
    StateStore.open(settings).add_lab(record)
    return record


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home", libvirt_uri="test:///default", profiles_dir=PROFILES, prefix="hlt-"
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as opened:
        yield opened


MakeLab = Callable[..., LabRecord]


@pytest.fixture
def make_lab(settings: Settings) -> MakeLab:
    def make(name: str, subnet: int = 9) -> LabRecord:
        return _make_lab(settings, name, subnet)

    return make


@pytest.fixture
def tokens(settings: Settings, app: FastAPI) -> dict[str, str]:
    """A token per role; the trainee has seat `c1-01`, the tester lab `mine`,
    the trainer class `c1` (seats c1-01, c1-02)."""
    return users_and_labs(settings)


def users_and_labs(settings: Settings) -> dict[str, str]:
    """What `tokens` makes: a user and token per role, labs c1-01, c1-02, mine, other,
    class c1 (seats c1-01, c1-02), and the assignments above."""
    users = UserStore.open(settings)
    found = {}
    for role in Role:
        users.add(role.value, role)
        found[role.value] = users.create_token(role.value)
    users.assign("trainee", AssignmentKind.LAB, "c1-01")
    users.assign("tester", AssignmentKind.LAB, "mine")
    users.assign("trainer", AssignmentKind.CLASS, "c1")
    for i, name in enumerate(("c1-01", "c1-02", "mine", "other")):
        _make_lab(settings, name, subnet=i)
    StateStore.open(settings).add_class(
        ClassRecord(
            name="c1",
            profile="tiny",
            profile_path=str(PROFILES / "tiny.yaml"),
            seats=("c1-01", "c1-02"),
            created_at=now(),
        )
    )
    return found


@pytest.fixture
def headers(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """Request headers per role: `headers["admin"]`."""
    return {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}


WaitOp = Callable[[str, dict[str, str]], dict[str, Any]]


@pytest.fixture
def wait_op(client: TestClient) -> WaitOp:
    """Poll an operation's URL until it has ended; its final JSON."""

    def wait(url: str, headers: dict[str, str]) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            op: dict[str, Any] = client.get(url, headers=headers).json()
            if op["status"] in ("succeeded", "failed", "canceled"):
                return op
            time.sleep(0.05)
        raise AssertionError(f"operation {url} did not finish")

    return wait
