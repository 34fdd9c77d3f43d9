"""Who owns a lab: assigned on success only, seats and other users' names refused, a
per-user limit, classes that never adopt a lab, and assignments that end with what
they point to (through the API and the CLI alike)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import lab.cli.classes
import lab.cli.labs
import lab.cli.users
from api.app import create_app
from lab.access.logins import LoginStore
from lab.access.users import AssignmentKind, Role
from lab.classes import classes
from lab.classes.records import ClassRecord
from lab.errors import ConflictError, LabError
from lab.host import hosts
from lab.host.facts import AccelChoice
from lab.host.model import HostRecord
from lab.host.records import HostStore
from lab.images import Image
from lab.images.model import Boot, Source, SourceKind
from lab.labs import deployment, lifecycle
from lab.labs.records import LabStatus
from lab.profile import Profile
from lab.settings import Settings
from lab.software import stack
from lab.software.provisioning import ProvisionError
from lab.store.state import StateStore, now
from tests.api.conftest import PROFILES, MakeLab, WaitOp

Headers = dict[str, dict[str, str]]
TINY = PROFILES / "tiny.yaml"


def _users(settings: Settings) -> dict[str, tuple[set[str], set[str]]]:
    """user -> (labs, classes) assigned, straight from the store."""
    return {
        u.name: (set(u.labs), set(u.classes))
        for u in LoginStore(StateStore.open(settings)).users.list_users()
    }


def _add_class(settings: Settings, name: str, seats: tuple[str, ...]) -> None:
    StateStore.open(settings).add_class(
        ClassRecord(
            name=name, profile="tiny", profile_path=str(TINY), seats=seats, created_at=now()
        )
    )


def _create(client: TestClient, headers: dict[str, str], name: str) -> Any:
    return client.post("/api/v1/labs", json={"profile": "tiny", "name": name}, headers=headers)


def _image(name: str) -> Image:
    return Image(
        name=name,
        digest="0" * 64,
        boot=Boot.BOOTLOADER,
        virtual_size=1 << 30,
        disk_size=1 << 20,
        created=now(),
        source=Source(kind=SourceKind.IMPORT, ref="x.qcow2", sha256="0" * 64),
    )


@pytest.fixture
def fake_up(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Make `lifecycle.up` run without images or guests: every step that needs a host is a
    no-op, and the machines "come up" (True) or do not (False)."""

    def install(ok: bool) -> None:
        def images(_settings: Settings, profile: Profile) -> dict[str, Image]:
            return {m.image: _image(m.image) for m in profile.machines}

        def ready(*_args: object) -> None:
            if not ok:
                raise LabError("machine 'm1' did not come up")

        accel = AccelChoice.model_validate({"virt_type": "qemu", "cpu": "Nehalem", "reason": "t"})
        monkeypatch.setattr(lifecycle, "with_role_images", lambda _s, p: p)
        monkeypatch.setattr(lifecycle, "images_for", images)
        monkeypatch.setattr(lifecycle, "_accel", lambda _s, _d, _h: accel)
        monkeypatch.setattr(lifecycle, "check_nic_filter", lambda _d, _f: None)
        monkeypatch.setattr(deployment, "create", lambda *_a: None)
        monkeypatch.setattr(lifecycle, "_boot", ready)
        monkeypatch.setattr(stack, "provision_record", lambda *_a: None)
        monkeypatch.setattr(stack, "verify_record", lambda *_a: None)
        monkeypatch.setattr(stack, "raise_unverified", lambda _v: None)

    return install


# -- a lab is the tester's on success only ----------------------------------------------


def test_a_failed_up_leaves_the_name_to_nobody(
    client: TestClient, headers: Headers, settings: Settings, wait_op: WaitOp
) -> None:
    created = _create(client, headers["tester"], "c3-01")
    assert created.status_code == 202
    op = wait_op(created.json()["url"], headers["tester"])
    assert op["status"] == "failed"  # no images here
    assert "c3-01" not in _users(settings)["tester"][0]
    assert client.get("/api/v1/labs/c3-01", headers=headers["tester"]).status_code == 403


def test_a_lab_that_comes_up_is_its_testers(
    client: TestClient,
    headers: Headers,
    settings: Settings,
    wait_op: WaitOp,
    fake_up: Callable[[bool], None],
) -> None:
    fake_up(True)
    created = _create(client, headers["tester"], "t9")
    op = wait_op(created.json()["url"], headers["tester"])
    assert op["status"] == "succeeded", op
    assert "t9" in _users(settings)["tester"][0]
    assert StateStore.open(settings).get_lab("t9").owner == "tester"
    assert client.get("/api/v1/labs/t9", headers=headers["tester"]).status_code == 200


def test_a_lab_asked_for_on_a_host_goes_there_or_is_refused_at_once(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    def ask(body: dict[str, str]) -> Any:
        return client.post("/api/v1/labs", json=body, headers=headers["admin"])

    unknown = ask({"profile": "tiny", "name": "h1", "host": "lab9"})
    assert unknown.status_code == 404 and "no host named 'lab9'" in unknown.text
    HostStore.open(settings).add(
        HostRecord(name="lab2", uri="qemu+tls://lab2.invalid/system", added_at=now())
    )
    hosts.drain(settings, "lab2")
    draining = ask({"profile": "tiny", "name": "h1", "host": "lab2"})
    assert draining.status_code == 409 and "host lab2 is draining" in draining.text
    assert StateStore.open(settings).find_lab("h1") is None


def test_machines_that_do_not_come_up_leave_nothing_owned(
    client: TestClient,
    headers: Headers,
    settings: Settings,
    wait_op: WaitOp,
    fake_up: Callable[[bool], None],
) -> None:
    fake_up(False)
    op = wait_op(_create(client, headers["tester"], "t9").json()["url"], headers["tester"])
    assert op["status"] == "failed"
    assert "t9" not in _users(settings)["tester"][0]
    assert StateStore.open(settings).find_lab("t9") is None


def test_asking_for_a_name_keeps_other_users_assignments(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    users = LoginStore(StateStore.open(settings)).users
    users.assign("trainee", AssignmentKind.LAB, "zz")  # a lab not (yet) there
    refused = _create(client, headers["tester"], "zz")
    assert refused.status_code == 409, refused.text
    assert "assigned to another user" in refused.json()["error"]
    assert _users(settings)["trainee"][0] == {"c1-01", "zz"}
    assert "zz" not in _users(settings)["tester"][0]


def test_a_seat_of_a_class_is_refused_to_a_tester(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    _add_class(settings, "c5", ("c5-01", "c5-02"))  # seats whose labs are not up yet
    refused = _create(client, headers["tester"], "c5-01")
    assert refused.status_code == 409, refused.text
    assert "seat of class 'c5'" in refused.json()["error"]
    assert "c5-01" not in _users(settings)["tester"][0]


def test_the_use_case_checks_ownership_too(settings: Settings, tokens: dict[str, str]) -> None:
    """Not only the route: `lifecycle.up` refuses a seat to a tester (checked again under
    the names lock, where the lab is recorded)."""
    _add_class(settings, "c6", ("c6-01",))
    tester = LoginStore(StateStore.open(settings)).users.get("tester")
    with pytest.raises(ConflictError, match="seat of class"):
        lifecycle.up(settings, TINY, "c6-01", owner=tester)


def test_a_tester_has_at_most_labs_per_user(
    tmp_path: Path, settings: Settings, tokens: dict[str, str], make_lab: MakeLab
) -> None:
    limited = settings.model_copy(update={"labs_per_user": 2})
    with TestClient(create_app(limited)) as client:
        auth = {"Authorization": f"Bearer {tokens['tester']}"}
        # `mine` is the tester's; a lab being made for them counts as well
        record = make_lab("t7", subnet=20).model_copy(
            update={"owner": "tester", "status": LabStatus.CREATING}
        )
        StateStore.open(settings).update_lab(record)
        refused = _create(client, auth, "t8")
        assert refused.status_code == 409, refused.text
        assert "LAB_LABS_PER_USER" in refused.json()["error"]
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        assert _create(client, admin, "t8").status_code == 202  # staff are not counted


# -- a class never adopts a lab ---------------------------------------------------------


def test_class_creation_refuses_a_seat_name_that_is_a_lab(
    settings: Settings, tokens: dict[str, str], make_lab: MakeLab
) -> None:
    make_lab("zz-01", subnet=30)  # someone's lab, named like seat 1 of a class `zz`
    LoginStore(StateStore.open(settings)).users.assign("tester", AssignmentKind.LAB, "zz-01")
    with pytest.raises(ConflictError, match="is a lab already"):
        classes.create(settings, TINY, "zz", 2)
    assert [k.name for k in classes.list_classes(settings)] == ["c1"]
    assert _users(settings)["tester"][0] == {"mine", "zz-01"}


def test_class_creation_refuses_a_seat_name_assigned_to_someone(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    LoginStore(StateStore.open(settings)).users.assign("trainee", AssignmentKind.LAB, "yy-02")
    body = {"profile": "tiny", "name": "yy", "seats": 2}
    made = client.post("/api/v1/classes", json=body, headers=headers["admin"])
    assert made.status_code == 409, made.text  # at request time
    assert "assigned to a user already" in made.json()["error"]
    assert client.get("/api/v1/classes/yy", headers=headers["admin"]).status_code == 404


# -- assignments end with what they point to: CLI and API alike -------------------------


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    for module in (lab.cli.labs, lab.cli.users, lab.cli.classes):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
        module.register(app)

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args))
        if isinstance(result.exception, LabError):  # what `lab` (lab.cli.main) prints
            return 1, result.exception.message
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.exit_code, result.stdout + result.stderr

    return invoke


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    return _cli(settings, monkeypatch)


@pytest.mark.parametrize("way", ["cli", "api"])
def test_deleting_a_lab_removes_its_assignments(
    way: str,
    client: TestClient,
    headers: Headers,
    settings: Settings,
    wait_op: WaitOp,
    cli: Callable[..., tuple[int, str]],
) -> None:
    users = LoginStore(StateStore.open(settings)).users
    users.add("t2", Role.TRAINEE)
    users.assign("t2", AssignmentKind.LAB, "mine")
    if way == "cli":
        assert cli("down", "mine")[0] == 0
    else:
        deleted = client.delete("/api/v1/labs/mine", headers=headers["tester"])
        assert wait_op(deleted.json()["url"], headers["tester"])["status"] == "succeeded"
    assert StateStore.open(settings).find_lab("mine") is None
    found = _users(settings)
    assert "mine" not in found["tester"][0]
    assert found["t2"][0] == set()


@pytest.mark.parametrize("way", ["cli", "api"])
def test_deleting_a_class_ends_its_trainers_and_trainees_access(
    way: str,
    client: TestClient,
    headers: Headers,
    settings: Settings,
    wait_op: WaitOp,
    cli: Callable[..., tuple[int, str]],
) -> None:
    users = LoginStore(StateStore.open(settings)).users
    users.add("c1-02", Role.TRAINEE)  # as the access sheet makes a seat's user
    users.assign("c1-02", AssignmentKind.LAB, "c1-02")
    if way == "cli":
        assert cli("class", "delete", "c1")[0] == 0
    else:
        deleted = client.delete("/api/v1/classes/c1", headers=headers["admin"])
        assert wait_op(deleted.json()["url"], headers["admin"])["status"] == "succeeded"
    found = _users(settings)
    assert found["trainer"] == (set(), set())
    assert found["trainee"] == (set(), set())
    assert "c1-02" not in found  # the seat's own trainee user is gone
    # a new class of the same name opens to nobody of the last one
    _add_class(settings, "c1", ("c1-01", "c1-02"))
    assert client.get("/api/v1/classes/c1", headers=headers["trainer"]).status_code == 403
    assert client.get("/api/v1/labs/c1-01", headers=headers["trainee"]).status_code in (403, 404)


def test_assigning_what_does_not_exist_is_refused(
    settings: Settings, tokens: dict[str, str], cli: Callable[..., tuple[int, str]]
) -> None:
    code, said = cli("user", "assign", "trainee", "--lab", "nope")
    assert code == 1 and "no lab named 'nope'" in said
    code, said = cli("user", "assign", "trainer", "--class", "nope")
    assert code == 1 and "no class named 'nope'" in said
    assert _users(settings)["trainee"][0] == {"c1-01"}
    _add_class(settings, "c7", ("c7-01",))  # a seat whose lab is not up is assignable
    assert cli("user", "assign", "trainee", "--lab", "c7-01")[0] == 0
    assert cli("user", "assign", "trainer", "--class", "c7")[0] == 0


def test_unassign(
    client: TestClient, headers: Headers, settings: Settings, cli: Callable[..., tuple[int, str]]
) -> None:
    assert cli("user", "unassign", "trainee", "--lab", "c1-01")[0] == 0
    assert client.get("/api/v1/labs/c1-01", headers=headers["trainee"]).status_code == 403
    assert cli("user", "unassign", "trainer", "--class", "c1")[0] == 0
    assert client.get("/api/v1/classes/c1", headers=headers["trainer"]).status_code == 403
    code, said = cli("user", "unassign", "trainee", "--lab", "c1-01")
    assert code == 1 and "has no lab 'c1-01' assigned" in said


# -- ending a user's access at once -----------------------------------------------------


def _login(client: TestClient, settings: Settings, name: str) -> dict[str, str]:
    LoginStore(StateStore.open(settings)).set_password(name, "a-long-password")
    answer = client.post("/api/v1/login", json={"name": name, "password": "a-long-password"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _me(client: TestClient, auth: dict[str, str]) -> int:
    status: int = client.get("/api/v1/me", headers=auth).status_code
    return status


def test_token_revoke_ends_web_sessions_too(
    client: TestClient, headers: Headers, settings: Settings, cli: Callable[..., tuple[int, str]]
) -> None:
    session = _login(client, settings, "tester")
    assert _me(client, session) == 200
    code, said = cli("token", "revoke", "tester")
    assert code == 0
    assert _me(client, session) == 401
    assert _me(client, headers["tester"]) == 401
    assert "1 token(s) and 1 web session(s) ended" in said


@pytest.mark.parametrize("command", ["disable", "remove"])
def test_disable_and_remove_end_every_way_in(
    command: str,
    client: TestClient,
    headers: Headers,
    settings: Settings,
    cli: Callable[..., tuple[int, str]],
) -> None:
    session = _login(client, settings, "trainee")
    code, said = cli("user", command, "trainee")
    assert code == 0, said
    assert _me(client, session) == 401
    assert _me(client, headers["trainee"]) == 401
    login = {"name": "trainee", "password": "a-long-password"}
    assert client.post("/api/v1/login", json=login).status_code == 401
    if command == "disable":
        # no new token for a disabled user, until they are enabled
        with pytest.raises(ConflictError, match="disabled"):
            cli_token(settings, "trainee")
        assert cli("user", "enable", "trainee")[0] == 0
        assert client.post("/api/v1/login", json=login).status_code == 200
        assert _me(client, {"Authorization": f"Bearer {cli_token(settings, 'trainee')}"}) == 200
    else:
        assert "trainee" not in _users(settings)


def cli_token(settings: Settings, name: str) -> str:
    return LoginStore(StateStore.open(settings)).users.create_token(name)


# -- no server paths in what testers read -----------------------------------------------


def test_a_failed_provisioning_names_no_server_path(
    client: TestClient,
    headers: Headers,
    settings: Settings,
    wait_op: WaitOp,
    fake_up: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    fake_up(True)
    artifacts = tmp_path / "artifacts" / "run-1"
    artifacts.mkdir(parents=True)
    (artifacts / "stdout").write_text("TASK [web-portal] failed")

    def failing(*_args: object) -> None:
        raise ProvisionError("a task of role web-portal failed", "see its log", str(artifacts))

    monkeypatch.setattr(stack, "provision_record", failing)
    created = client.post(
        "/api/v1/labs", json={"profile": "stack", "name": "t9"}, headers=headers["tester"]
    )
    op = wait_op(created.json()["url"], headers["tester"])
    assert op["status"] == "failed"
    assert (settings.home / "logs" / "t9-provision-run-1.log").is_file()  # kept, for staff
    said = str(op) + client.get(created.json()["url"] + "/events", headers=headers["tester"]).text
    assert str(settings.home) not in said and str(tmp_path) not in said
    assert "kept at LAB_HOME/logs/t9-provision-run-1.log" in op["hint"]


def test_the_catalogue_names_no_server_path(
    settings: Settings, tokens: dict[str, str], tmp_path: Path
) -> None:
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    (catalogue / "broken.yaml").write_text("community:\n  name: Bad\n")
    (catalogue / "_base.yaml").write_text("abstract: true\nnetworks: 3\n")
    with TestClient(create_app(settings.model_copy(update={"profiles_dir": catalogue}))) as client:
        auth = {"Authorization": f"Bearer {tokens['tester']}"}
        listed = client.get("/api/v1/profiles", headers=auth)
        assert listed.status_code == 200
        assert listed.json()[0]["error"].startswith("invalid profile broken.yaml")
        upload = b"extends: _base.yaml\ncommunity: {name: up, title: t, oblast: o, kind: rural}\n"
        checked = client.post("/api/v1/profiles/validate", content=upload, headers=auth)
        assert checked.status_code == 422
        assert str(catalogue) not in checked.text and str(tmp_path) not in listed.text
        assert "LAB_PROFILES_DIR/_base.yaml" in checked.text


def test_test_results_name_no_server_path(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    run = settings.labs_dir / "mine" / "verify" / "20260101T000000Z"
    run.mkdir(parents=True)
    where = settings.playbooks_dir / "roles" / "common" / "tests" / "test_common.py"
    (run / "junit.xml").write_text(
        '<testsuites><testsuite name="t" time="1"><testcase name="alive" time="1">'
        f'<failure message="{where}:12: AssertionError">{settings.home}/x</failure>'
        "</testcase></testsuite></testsuites>"
    )
    for url in ("/api/v1/labs/mine/tests/latest", "/api/v1/labs/mine/tests/latest/junit"):
        answer = client.get(url, headers=headers["tester"])
        assert answer.status_code == 200, answer.text
        assert str(settings.playbooks_dir) not in answer.text
        assert str(settings.home) not in answer.text
        assert "LAB_PLAYBOOKS_DIR/roles/common/tests/test_common.py:12" in answer.text
