"""check_task / check_tasks against a fake guest (lab.labs.guest's connect and run_on
replaced): the command lines they send (quoted: a check's values stay one argument), the
facts read back, and the paths where a machine does not answer, runs out of time or
refuses sudo. Every outcome is a CheckOutcome; nothing raises."""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from pydantic import ValidationError

from lab.courses import checking, sessions
from lab.courses.model import Course, FileCheck
from lab.courses.sessions import SessionPool
from lab.errors import LabError
from lab.labs import guest, passwords
from lab.labs.guest import CommandResult, GuestAddress, GuestUnreachableError
from lab.labs.plan import plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile.loader import load_profile_text
from lab.settings import Settings
from tests.hostile import BOUNDED, hostile_text

PROFILE = """
community: {name: cnap, title: "ЦНАП", oblast: "Київська", kind: settlement}
networks:
  - {name: office, cidr: 10.40.0.0/24}
machines:
  - name: file-srv
    image: debian-12
    memory: 512MiB
    nics: [{network: office, address: 10.40.0.5}]
  - name: cnap-ws
    image: debian-12
    memory: 512MiB
    nics: [{network: office, address: 10.40.0.20}]
accounts:
  - {name: operator, full_name: "Оператор ЦНАП", kind: staff, department: cnap}
"""


@dataclass
class FakeFile:
    directory: bool = False
    owner: str = "root"
    group: str = "root"
    mode: int = 0o644
    content: str = ""


@dataclass
class FakeGuest:
    """One guest per management address: files, services, users, and what it was sent."""

    files: dict[str, FakeFile] = field(default_factory=dict)
    services: dict[str, dict[str, str]] = field(default_factory=dict)
    users: dict[str, list[str]] = field(default_factory=dict)
    down: bool = False
    sudo: bool = True
    hang: set[str] = field(default_factory=set)  # inner commands that never end
    probe: Any = None  # (probe dict) -> answer dict
    lines: list[str] = field(default_factory=list)  # every command line it received
    inner: list[list[str]] = field(default_factory=list)  # the words run by /bin/sh -c


class FakeClient:
    def __init__(self, box: FakeGuest) -> None:
        self.box = box
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeLab:
    def __init__(self, plan: Any) -> None:
        self.by_address = {
            str(m.management_address): FakeGuest() for m in plan.machines if m.managed
        }
        self.names = {str(m.management_address): m.name for m in plan.machines if m.managed}
        self.connects = 0
        self.lock = threading.Lock()

    def __getitem__(self, machine: str) -> FakeGuest:
        for address, name in self.names.items():
            if name == machine:
                return self.by_address[address]
        raise KeyError(machine)

    def connect(self, addr: GuestAddress, timeout: float = 5.0) -> Any:
        box = self.by_address[addr.host]
        if box.down:
            raise GuestUnreachableError(f"cannot reach {addr.host}: timed out")
        with self.lock:
            self.connects += 1
        return FakeClient(box)

    def run_on(
        self,
        client: FakeClient,
        addr: GuestAddress,
        command: str,
        timeout: float = 60.0,
        on_stdout: Any = None,
        limit: int | None = None,
    ) -> CommandResult:
        box = client.box
        assert not client.closed
        if box.down:
            raise GuestUnreachableError(f"`{command[:20]}` on {addr.host} broke off")
        box.lines.append(command)
        argv = shlex.split(command)
        if argv == ["sudo", "-n", "true"]:
            return _result(
                0 if box.sudo else 1, "", "" if box.sudo else "sudo: a password is required"
            )
        if argv[:3] == ["sudo", "-n", "python3"]:
            answers = [box.probe(p) for p in json.loads(argv[-1])]
            return _result(0, json.dumps({"answers": answers}) + "\n")
        assert argv[:5] == ["sudo", "-n", "timeout", "-k", "1"], argv
        assert argv[6:8] == ["/bin/sh", "-c"] and len(argv) == 9, argv
        assert 1 <= int(argv[5]) <= 20
        words = shlex.split(argv[8])
        box.inner.append(words)
        if argv[8] in box.hang:
            time.sleep(min(timeout, 0.3))
            raise GuestUnreachableError(f"`{argv[8]}` on {addr.host} did not finish in time")
        return _answer(box, words, argv[8])


def _result(code: int, out: str = "", err: str = "") -> CommandResult:
    return CommandResult(exit_code=code, stdout=out, stderr=err, duration=0.01)


def _answer(box: FakeGuest, words: list[str], line: str) -> CommandResult:
    match words:
        case ["test", "-e", path]:
            return _result(0 if path in box.files else 1)
        case ["test", "-d", path]:
            found = path.rstrip("/") in box.files and box.files[path.rstrip("/")].directory
            return _result(0 if found or path == "/run/systemd/system/" else 1)
        case ["stat", "-Lc", fmt, path]:
            f = box.files[path]
            value = {"%U": f.owner, "%G": f.group, "%a": f"{f.mode:o}"}[fmt]
            return _result(0, value + "\n")
        case ["grep", "-F", "-q", "--", text, path]:
            return _result(0 if text in box.files[path].content else 1)
        case ["systemctl", "show", name]:
            props = box.services.get(name, {"LoadState": "not-found", "ActiveState": "inactive"})
            return _result(0, "".join(f"{k}={v}\n" for k, v in props.items()))
        case ["id", name]:
            return _result(0 if name in box.users else 1)
        case ["id", "-nG", name]:
            return _result(0, " ".join(box.users[name]) + "\n")
        case ["runuser", "-u", "postgres", "--", "psql", *_]:
            return _result(0, "Олена\n")
        case ["false"]:
            return _result(1, "", "it failed\n")
        case _:
            return _result(0, f"ran: {line}\n")


@pytest.fixture
def record(tmp_path: Path) -> LabRecord:
    profile = load_profile_text(PROFILE, "cnap.yaml")
    plan = plan_lab(profile, "cnap-01", "hlt-", tmp_path, IPv4Network("10.250.9.0/24"))
    passwords.account_passwords(plan.keys_dir, profile)
    at = datetime.now(UTC)
    return LabRecord(
        name="cnap-01",
        profile="cnap",
        profile_path="cnap.yaml",
        status=LabStatus.RUNNING,
        plan=plan,
        spec=profile,
        created_at=at,
        updated_at=at,
    )


@pytest.fixture
def lab(record: LabRecord, monkeypatch: pytest.MonkeyPatch) -> FakeLab:
    fake = FakeLab(record.plan)
    monkeypatch.setattr(guest, "connect", fake.connect)
    monkeypatch.setattr(guest, "run_on", fake.run_on)
    return fake


@pytest.fixture
def pool() -> Any:
    made = SessionPool(idle=60)
    yield made
    made.close_all()


def course(*tasks: dict[str, Any]) -> Course:
    return Course.model_validate(
        {
            "title": "Спільні папки",
            "audience": "адміністратори ЦНАП",
            "profile": "cnap",
            "tasks": [
                {"id": f"t{i}", "title": f"Завдання {i}", "instructions": "Зробіть.", **t}
                for i, t in enumerate(tasks, start=1)
            ],
        }
    )


def run(record: LabRecord, pool: SessionPool, *tasks: dict[str, Any]) -> Any:
    c = course(*tasks)
    return checking.check_tasks(Settings(), record, c, c.tasks, pool=pool)


def words(out: Any) -> list[tuple[bool, str]]:
    return [(check.ok, check.message.get("uk")) for task in out for check in task.checks]


# -- what is sent, and what comes back ------------------------------------------------


def test_a_hostile_path_reaches_the_guest_as_one_argument(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    path = "/tmp/$(reboot)`id`; rm -rf / 'x\""
    lab["file-srv"].files[path] = FakeFile(content="ok")
    out = run(
        record,
        pool,
        {"machine": "file-srv", "checks": [{"file": path, "contains": "$(id) '; reboot"}]},
    )
    assert words(out) == [
        (False, f"Файл {path} є, але в ньому немає тексту «$(id) '; reboot»."),
    ]
    inner = lab["file-srv"].inner
    assert ["test", "-e", path] in inner
    assert ["grep", "-F", "-q", "--", "$(id) '; reboot", path] in inner


def test_a_command_runs_by_the_guests_shell_as_root_and_its_result_is_judged(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    out = run(
        record,
        pool,
        {"machine": "file-srv", "checks": [{"command": "false"}, {"command": "echo 100%s"}]},
    )
    assert words(out) == [
        (False, "Команда завершилася з кодом 1 (очікували 0): «it failed»"),
        (True, "Команда завершилася з кодом 0."),
    ]
    assert lab["file-srv"].inner[-1] == ["echo", "100%s"]  # no %-formatting of the command


def test_every_local_kind_over_one_connection_per_machine(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    box = lab["file-srv"]
    box.files["/srv/shares/cnap"] = FakeFile(directory=True, group="smb-cnap", mode=0o2750)
    box.services["smbd"] = {
        "LoadState": "loaded",
        "ActiveState": "inactive",
        "UnitFileState": "enabled",
    }
    box.users["olena"] = ["olena", "staff"]
    out = run(
        record,
        pool,
        {
            "machine": "file-srv",
            "checks": [
                {"file": "/srv/shares/cnap", "type": "directory", "group_writable": True},
                {"service": "smbd"},
            ],
        },
        {
            "machine": "file-srv",
            "checks": [
                {"user": "olena", "groups": ["staff", "smb-cnap"]},
                {"sql": "select name from staff", "database": "registry", "returns": "Олена"},
            ],
        },
    )
    assert [t.task for t in out] == ["t1", "t2"] and not out[0].ok and not out[1].ok
    assert words(out) == [
        (
            False,
            "Папка /srv/shares/cnap існує, але група smb-cnap не може до неї записувати"
            " (права rwxr-s---).",
        ),
        (False, "Служба smbd не працює (стан: inactive)."),
        (False, "Користувач olena є, але не входить до групи smb-cnap."),
        (True, "Запит повернув 1 рядок, серед них «Олена»."),
    ]
    assert lab.connects == 1
    assert [
        "runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
        "-d", "registry", "-c", "select name from staff",
    ] in box.inner  # fmt: skip
    assert out[0].seconds >= 0 and out[0].at.tzinfo is not None


def test_the_next_round_reuses_the_connection_and_checks_it_first(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    task = {"machine": "file-srv", "checks": [{"command": "true"}]}
    run(record, pool, task)
    run(record, pool, task)
    assert lab.connects == 1 and pool.made == 1 and pool.reused == 1
    assert lab["file-srv"].lines.count("sudo -n true") == 2


def test_a_kept_connection_that_died_is_replaced(
    record: LabRecord, lab: FakeLab, pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = {"machine": "file-srv", "checks": [{"command": "true"}]}
    run(record, pool, task)
    real = lab.run_on
    calls = {"n": 0}

    def dies_once(client: Any, addr: Any, command: str, **kw: Any) -> CommandResult:
        calls["n"] += 1
        if calls["n"] == 1:  # the kept connection: the lab was reset meanwhile
            raise GuestUnreachableError("broke off: connection reset")
        return real(client, addr, command, **kw)

    monkeypatch.setattr(guest, "run_on", dies_once)
    (outcome,) = run(record, pool, task)
    assert outcome.ok and lab.connects == 2


# -- what cannot be checked -----------------------------------------------------------


def test_a_machine_that_does_not_answer_fails_its_checks_in_words(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    lab["file-srv"].down = True
    out = run(
        record,
        pool,
        {"machine": "file-srv", "checks": [{"service": "smbd"}, {"user": "olena"}]},
        {"machine": "cnap-ws", "checks": [{"command": "true"}]},
    )
    (a, b, c) = words(out)
    assert not a[0] and a[1].startswith("Не вдалося зв'язатися з машиною file-srv.")
    assert b == a and c == (True, "Команда завершилася з кодом 0.")
    assert not out[0].ok and out[1].ok


def test_sudo_refused_is_said(record: LabRecord, lab: FakeLab, pool: SessionPool) -> None:
    lab["file-srv"].sudo = False
    (task,) = run(record, pool, {"machine": "file-srv", "checks": [{"command": "true"}]})
    assert not task.ok and "sudo відмовив" in task.checks[0].message.get("uk")
    assert "sudo refused" in task.checks[0].message.get("en")


def test_a_check_out_of_time_fails_and_the_next_gets_a_fresh_connection(
    record: LabRecord, lab: FakeLab, pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checking, "CHECK_SECONDS", 0.2)
    lab["file-srv"].hang.add("sleep 1000")
    out = run(
        record,
        pool,
        {"machine": "file-srv", "checks": [{"command": "sleep 1000"}, {"command": "true"}]},
    )
    assert words(out) == [
        (False, "Перевірка на машині file-srv не завершилася за 0 с."),
        (True, "Команда завершилася з кодом 0."),
    ]
    assert lab.connects == 2


def test_a_stopped_seat_an_appliance_and_a_machine_the_lab_lacks(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    out = run(record, pool, {"machine": "mail-srv", "checks": [{"service": "postfix"}]})
    assert not out[0].ok and "курс не пасує" in out[0].checks[0].message.get("uk")
    stopped = record.model_copy(update={"status": LabStatus.STOPPED})
    out = run(stopped, pool, {"machine": "file-srv", "checks": [{"service": "smbd"}]})
    assert "не працює (стан: stopped)" in out[0].checks[0].message.get("uk")
    assert lab.connects == 0


def test_nothing_raises_from_a_guest_that_answers_nonsense(
    record: LabRecord, lab: FakeLab, pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nonsense(client: Any, addr: Any, command: str, **kw: Any) -> CommandResult:
        if command == "sudo -n true":
            return _result(0)
        return _result(0, "\x00garbage\nno=way\n" * 3)

    monkeypatch.setattr(guest, "run_on", nonsense)
    out = run(
        record,
        pool,
        {
            "machine": "file-srv",
            "checks": [
                {"file": "/srv/x", "owner": "olena", "group_writable": True},
                {"service": "smbd"},
                {"user": "olena", "groups": ["staff"]},
                {"port": 445},
            ],
        },
    )
    assert all(not c.ok for c in out[0].checks)
    for c in out[0].checks:
        assert c.message.get("uk") and c.message.get("en")


# -- asked from a machine of the lab --------------------------------------------------


def test_port_page_and_share_are_asked_from_another_machine_in_one_command(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    asked: list[dict[str, Any]] = []

    def probe(p: dict[str, Any]) -> dict[str, Any]:
        asked.append(p)
        base = {"ok": True, "error": None, "message": "", "status": None, "body": None}
        if p["kind"] == "tcp":
            return base | {"ok": False, "error": "refused", "message": "refused"}
        if p["kind"] == "http":
            return base | {"status": 404, "body": "Not Found"}
        listing = (
            "  .   D  0  Mon Mar  3 10:00:00 2025\n  inshe.odt   A  10  Mon Mar  3 10:00:00 2025\n"
        )
        return base | {"exit": 0, "output": listing}

    lab["cnap-ws"].probe = probe
    out = run(
        record,
        pool,
        {
            "machine": "file-srv",
            "checks": [
                {"port": 445},
                {"http": "/x"},
                {"share": "cnap", "holds": "zvit.odt", "account": "operator"},
            ],
        },
    )
    assert words(out) == [
        (
            False,
            "Порт 445 машини file-srv не відповідає (перевірено з cnap-ws: з'єднання"
            " відхилено: там нічого не слухає).",
        ),
        (False, "Сторінка http://10.40.0.5/x відповіла 404 замість 200."),
        (False, "У спільній папці cnap немає «zvit.odt» (так її бачить operator з cnap-ws)."),
    ]
    probes = [line for line in lab["cnap-ws"].lines if "python3" in line]
    assert len(probes) == 1 and lab["file-srv"].lines == []
    assert {p["address"] for p in asked} == {"10.40.0.5"}
    password = passwords.known_passwords(record.plan.keys_dir)["operator"]
    assert asked[2]["password"] == password
    for c in out[0].checks:
        assert password not in c.message.get("uk") + c.message.get("en")


def test_from_names_the_asking_machine(record: LabRecord, lab: FakeLab, pool: SessionPool) -> None:
    ok = {"ok": True, "error": None, "message": "", "status": None, "body": None}
    lab["file-srv"].probe = lambda p: ok
    out = run(record, pool, {"machine": "cnap-ws", "checks": [{"port": 22, "from": "file-srv"}]})
    assert words(out) == [(True, "Порт 22 машини cnap-ws відповідає (перевірено з file-srv).")]


def test_the_asking_machine_down_fails_the_probe_checks(
    record: LabRecord, lab: FakeLab, pool: SessionPool
) -> None:
    lab["cnap-ws"].down = True
    out = run(record, pool, {"machine": "file-srv", "checks": [{"port": 445}]})
    assert out[0].checks[0].message.get("uk").startswith("Не вдалося зв'язатися з машиною cnap-ws.")


def test_a_share_account_the_lab_lacks(record: LabRecord, lab: FakeLab, pool: SessionPool) -> None:
    out = run(
        record,
        pool,
        {"machine": "file-srv", "checks": [{"share": "cnap", "holds": "a", "account": "nobody"}]},
    )
    assert "немає облікового запису nobody" in out[0].checks[0].message.get("uk")


# -- the pool -------------------------------------------------------------------------


def test_idle_sessions_are_closed(record: LabRecord, lab: FakeLab) -> None:
    pool = SessionPool(idle=0.2)
    task = {"machine": "file-srv", "checks": [{"command": "true"}]}
    run(record, pool, task)
    kept = [s for group in pool._kept.values() for s in group]
    assert len(kept) == 1
    deadline = time.monotonic() + 3
    while pool._kept and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pool._kept and kept[0].client.closed  # type: ignore[attr-defined]


def test_check_task_is_one_task_of_a_round(record: LabRecord, lab: FakeLab) -> None:
    c = course({"machine": "file-srv", "checks": [{"command": "true"}]})
    outcome = checking.check_task(Settings(), record, c, c.tasks[0])
    assert outcome.ok and outcome.task == "t1"
    sessions.POOL.close_all()


def test_the_backend_never_runs_on_the_host() -> None:
    from lab.courses.testinfra_backend import LabBackend

    backend = LabBackend("m", None, None)  # type: ignore[arg-type]
    with pytest.raises(LabError, match="on the host"):
        backend.run_local("id")


def test_an_unforeseen_failure_is_a_failed_check_and_the_round_goes_on(
    record: LabRecord, lab: FakeLab, pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = lab.run_on

    def odd(client: Any, addr: Any, command: str, **kw: Any) -> CommandResult:
        if "boom" in command:
            raise TypeError("something nobody foresaw")
        return real(client, addr, command, **kw)

    monkeypatch.setattr(guest, "run_on", odd)
    out = run(
        record, pool, {"machine": "file-srv", "checks": [{"command": "boom"}, {"command": "true"}]}
    )
    assert words(out) == [
        (
            False,
            "Не вдалося перевірити на машині file-srv: перевірка несподівано не вдалася;"
            " спробуйте ще раз або покличте тренера.",
        ),
        (True, "Команда завершилася з кодом 0."),
    ]


def test_a_command_that_exits_124_by_itself_is_judged_not_timed_out(
    record: LabRecord, lab: FakeLab, pool: SessionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = lab.run_on

    def exits_124(client: Any, addr: Any, command: str, **kw: Any) -> CommandResult:
        if "exit 124" in command:
            return _result(124)
        return real(client, addr, command, **kw)

    monkeypatch.setattr(guest, "run_on", exits_124)
    out = run(record, pool, {"machine": "file-srv", "checks": [{"command": "exit 124"}]})
    assert words(out) == [(False, "Команда завершилася з кодом 124 (очікували 0).")]


def _shell_words(inner: str) -> list[str]:
    """What a real POSIX shell makes of `inner` (its first word replaced by a printer)."""
    program, _, rest = inner.partition(" ")
    done = subprocess.run(
        ["/bin/sh", "-c", "printf '%s\\0' " + rest],
        capture_output=True,
        check=True,
        timeout=10,
    )
    return [program, *done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]]


@BOUNDED
@given(path=hostile_text(60), text=hostile_text(60))
def test_any_path_and_text_a_course_accepts_stay_one_argument_each(
    record: LabRecord, lab: FakeLab, path: str, text: str
) -> None:
    try:
        check = FileCheck.model_validate({"file": "/" + path.lstrip("/"), "contains": text})
    except ValidationError:
        return
    box = lab["file-srv"]
    box.files[check.file] = FakeFile(content="")
    box.inner.clear()
    box.lines.clear()
    pool = SessionPool(idle=0)
    run(
        record,
        pool,
        {"machine": "file-srv", "checks": [check.model_dump(by_alias=True, exclude_none=True)]},
    )
    assert check.contains is not None
    assert ["grep", "-F", "-q", "--", check.contains, check.file] in box.inner
    # The same command line, parsed by a real shell: the values arrive whole, nothing runs.
    grep = next(line for line in box.lines if "grep" in line)
    inner = shlex.split(grep)[8]
    assert _shell_words(inner) == ["grep", "-F", "-q", "--", check.contains, check.file]
