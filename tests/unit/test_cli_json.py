"""`--json` of every listing and status command prints the API's own wire models: over one
LAB_HOME holding a record of each kind (labs, a class, a schedule, an image, a template, a
checkpoint, a verification, users, courses), each command's JSON is compared with what the
matching API route answers for the same home: the same keys always, the same values
wherever nothing live (free memory, paths the API hides) can differ."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab.baselines import generations
from lab.classes.schedules import ScheduleStore
from lab.images import ImageStore
from lab.operations.store import OperationStore, OpStatus
from lab.settings import Settings
from lab.store.state import StateStore
from lab.templates.model import Template, TemplateLayer, TemplateMachine
from lab.templates.store import TemplateStore
from tests.api.conftest import PROFILES, users_and_labs
from tests.cli_runs import run_lab

MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="1" time="0.5">
<testcase classname="profile" name="alive" time="0.5">
<properties><property name="machine" value="m1"/><property name="role" value="profile"/>
<property name="test" value="alive"/></properties></testcase>
</testsuite></testsuites>
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, TestClient]]:
    """A home with one record of each kind, and the API over it logged in as admin."""
    tmp = tmp_path_factory.mktemp("json")
    settings = Settings(
        home=tmp / "home", libvirt_uri="test:///default", profiles_dir=PROFILES, prefix="hlt-"
    )
    with TestClient(create_app(settings)) as client:
        tokens = users_and_labs(settings)  # labs c1-01, c1-02, mine, other; class c1
        client.headers["Authorization"] = f"Bearer {tokens['admin']}"
        soon = datetime.now(UTC) + timedelta(days=1)
        ScheduleStore(StateStore.open(settings)).add("c1", soon, "admin")
        _image(settings, tmp)
        _operation(settings)
        _template(settings)
        plan = StateStore.open(settings).get_lab("mine").plan
        _checkpoint(plan)
        run = plan.directory / "verify" / "20261201T090000"
        run.mkdir(parents=True)
        (run / "junit.xml").write_text(JUNIT, encoding="utf-8")
        yield settings, client


def _image(settings: Settings, tmp: Path) -> None:
    """An image no lab uses, and one under the name lab 'mine' runs on."""
    disk = tmp / "spare.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "4M"], check=True)
    ImageStore(settings).import_file(disk, "spare", lambda _: None)
    used = sorted(StateStore.open(settings).get_lab("mine").images)[0]
    ImageStore(settings).import_file(disk, used, lambda _: None)


def _operation(settings: Settings) -> None:
    """A finished operation with progress, as a command leaves it."""
    store = OperationStore.open(settings)
    op = store.create("baseline", "lab/mine", "cli:admin")
    store.start(op.id)
    store.add_event(op.id, "m1", "saved")
    store.finish(op.id, OpStatus.SUCCEEDED, result={"generation": "g1"})


def _template(settings: Settings) -> None:
    plan = StateStore.open(settings).get_lab("other").plan
    layer = TemplateLayer(layer="m1", digest=hashlib.sha256(b"m1").hexdigest())
    TemplateStore(settings).put_manifest(
        Template(
            name="t1",
            digest=hashlib.sha256(b"t1").hexdigest(),
            source_lab="other",
            profile="tiny",
            created_at=MOMENT,
            plan=plan,
            image_digests={},
            machines=(TemplateMachine(name="m1", layers=(layer,)),),
            size=0,
        )
    )


def _checkpoint(plan: Any) -> None:
    """A checkpoint on disk as a capture leaves it (a frozen layer, a memory state)."""
    taken = generations.Baseline(
        generation="20261201T090000-aaaaaa", created_at=MOMENT, memory=("m1",), name="first"
    )
    taken.directory(plan).mkdir(parents=True)
    taken.disk(plan, "m1").write_bytes(b"x" * 8192)
    taken.memory_state(plan, "m1").write_bytes(b"y" * 8192)
    (generations.baselines_dir(plan) / "checkpoints").mkdir(exist_ok=True)
    path = generations.baselines_dir(plan) / "checkpoints" / "first.json"
    path.write_text(taken.model_dump_json())


def _cli(settings: Settings, *args: str, code: int = 0) -> Any:
    done = run_lab(settings, *args)
    assert done.returncode == code, done.stderr
    assert "\x1b[" not in done.stdout
    return json.loads(done.stdout)


def _api(client: TestClient, path: str) -> Any:
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _keys(found: Any) -> list[list[str]]:
    """Each item's keys (a list), or the one object's; never empty, so that a comparison
    of keys cannot pass vacuously."""
    items = found if isinstance(found, list) else [found]
    assert items, "nothing to compare: the home lacks a record of this kind"
    return [sorted(item) for item in items]


# (command, matching API route, whether the values are the same too)
SAME_AS_THE_API = [
    (["list"], "/api/v1/labs", True),
    (["class", "list"], "/api/v1/classes", True),
    (["class", "status", "c1"], "/api/v1/classes/c1/status", True),
    (["class", "schedules", "c1"], "/api/v1/classes/c1/schedules", True),
    (["image", "list"], "/api/v1/images", True),
    (["template", "list"], "/api/v1/templates", True),
    (["template", "show", "t1"], "/api/v1/templates/t1", True),
    (["checkpoint", "mine", "--list"], "/api/v1/labs/mine/checkpoints", True),
    (["course", "list"], "/api/v1/courses", True),
    (["operation", "list"], "/api/v1/operations", True),
    (["host", "list"], "/api/v1/hosts", False),  # free memory and disk change meanwhile
    (["verification", "mine"], "/api/v1/labs/mine/tests/latest", False),  # paths hidden
]


@pytest.mark.parametrize(("command", "route", "same"), SAME_AS_THE_API)
def test_json_is_the_apis(
    home: tuple[Settings, TestClient], command: list[str], route: str, same: bool
) -> None:
    settings, client = home
    printed, answered = _cli(settings, *command, "--json"), _api(client, route)
    assert _keys(printed) == _keys(answered)
    if same:
        assert printed == answered


def test_a_status_prints_the_apis_fields_and_keeps_its_exit_code(
    home: tuple[Settings, TestClient],
) -> None:
    """Nothing runs in libvirt's test driver: the machine does not answer, exit 1."""
    settings, client = home
    printed = _cli(settings, "status", "mine", "--json", code=1)
    answered = _api(client, "/api/v1/labs/mine/status")
    assert _keys(printed) == _keys(answered)
    assert _keys(printed["machines"]) == _keys(answered["machines"])
    assert printed["lab"] == answered["lab"]


def test_one_image_and_the_users_in_the_apis_fields(home: tuple[Settings, TestClient]) -> None:
    """No route shows one image or lists users: the list's item and `/me` say the fields."""
    settings, client = home
    image = _cli(settings, "image", "show", "spare", "--json")
    assert _keys(image) == _keys(_api(client, "/api/v1/images")[0])
    users = _cli(settings, "user", "list", "--json")
    assert _keys(users)[0] == _keys(_api(client, "/api/v1/me"))[0]
    assert {u["name"] for u in users} >= {"admin", "trainee", "trainer", "tester"}


def test_an_image_shown_names_its_users_like_the_list(home: tuple[Settings, TestClient]) -> None:
    settings, client = home
    listed = {i["name"]: i for i in _api(client, "/api/v1/images")}
    used = [name for name, item in listed.items() if item["used_by"]]
    assert used, "the home's lab uses an image"
    for name in listed:
        assert _cli(settings, "image", "show", name, "--json") == listed[name]


def test_one_operation_is_the_apis(home: tuple[Settings, TestClient]) -> None:
    settings, client = home
    op_id = _api(client, "/api/v1/operations")[0]["id"]
    assert _cli(settings, "operation", "show", op_id, "--json") == _api(
        client, f"/api/v1/operations/{op_id}"
    )


def test_json_is_plain_text(home: tuple[Settings, TestClient]) -> None:
    """Indented JSON and a newline: no colour even where rich would highlight JSON."""
    settings, _ = home
    done = run_lab(settings, "list", "--json", FORCE_COLOR="1")
    assert "\x1b[" not in done.stdout and done.stdout.startswith("[\n  {")
    assert done.stdout.endswith("}\n]\n")
