"""Course files: the samples load against their profiles; every broken course gives
located problems (right line, key path, words), never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import jsonschema
import pytest
import typer
import yaml
from typer.testing import CliRunner

from lab.cli import course as course_cli
from lab.courses.catalogue import course_path, get_course, list_courses
from lab.courses.loader import CourseError, course_json_schema, course_problems, load_course
from lab.courses.model import CheckKind, Course, FileCheck, ShareCheck
from lab.courses.words import describe_check
from lab.errors import InvalidError, NotFoundError
from lab.labs import deployment
from lab.labs.keys import KeyPair
from lab.labs.plan import plan_lab
from lab.profile import Problem, load_profile
from lab.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "profiles"
COURSES = sorted((ROOT / "courses").glob("*.yaml"))

# A valid course on rural-hromada; each test below breaks one thing (line numbers matter).
GOOD = """\
title: "Спільні документи"
audience: "Оператори ЦНАП"
profile: rural-hromada
tasks:
  - id: folder
    title: "Папка"
    machine: file-srv
    instructions: "Створіть папку."
    checks:
      - file: /srv/shares/cnap/dovidky
        type: directory
      - share: cnap
        holds: dovidky
        account: operator
        from: cnap-ws
"""


def problems_of(text: str, tmp_path: Path, profiles: Path = PROFILES) -> tuple[Problem, ...]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(CourseError) as info:
        load_course(path, profiles)
    assert str(info.value).startswith(f"invalid course {path} (")
    return info.value.problems


def only(text: str, tmp_path: Path, profiles: Path = PROFILES) -> tuple[int, int, str, str]:
    """The one problem of `text`, as (line, column, path, message)."""
    found = problems_of(text, tmp_path, profiles)
    assert len(found) == 1, [str(p) for p in found]
    return found[0].line, found[0].column, found[0].path, found[0].message


def test_good_course_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    course = load_course(path, PROFILES)
    assert course.title.get("en") == "Спільні документи"  # no English: the Ukrainian
    checks = course.tasks[0].checks
    assert [c.kind for c in checks] == [CheckKind.FILE, CheckKind.SHARE]
    assert isinstance(checks[1], ShareCheck) and checks[1].from_ == "cnap-ws"


@pytest.mark.parametrize("path", COURSES, ids=[p.name for p in COURSES])
def test_every_sample_course_loads_against_its_profile(path: Path) -> None:
    course = load_course(path, PROFILES)
    assert len(course.tasks) >= 4
    profile = load_profile(PROFILES / f"{course.profile}.yaml")
    trainee = [a for a in profile.accounts if a.kind.value == "trainee"]
    assert trainee and all(a.sudo for a in trainee), "the trainee administers: sudo"
    for task in course.tasks:
        assert task.title.en and task.instructions.en, f"{task.id}: English too"
        assert 1 <= len(task.hints) <= 3, task.id
        assert task.points > 0
        assert task.machine in task.instructions.uk, f"{task.id}: says on which machine"


@pytest.mark.parametrize("path", COURSES, ids=[p.name for p in COURSES])
def test_sample_checks_ask_for_the_trainee_s_work(path: Path) -> None:
    """A check that passes before the trainee did anything is a defect: what the roles set
    up (the department shares' own folders) is never what a file check looks for."""
    course = load_course(path, PROFILES)
    made_by_roles = {"/srv/shares", "/srv/shares/cnap", "/srv/shares/informatyka"}
    for task in course.tasks:
        for check in task.checks:
            if isinstance(check, FileCheck):
                assert check.file not in made_by_roles, f"{task.id}: {check.file}"
            if isinstance(check, ShareCheck):
                assert check.holds, task.id


def test_broken_check_with_two_kinds(tmp_path: Path) -> None:
    text = GOOD.replace("      - file: /srv", "      - service: smbd\n        file: /srv")
    line, column, path, message = only(text, tmp_path)
    assert (line, column, path) == (10, 9, "tasks[0].checks[0]")
    assert "a check has exactly one of the keys file, service" in message
    assert message.endswith("got file and service")


def test_check_with_no_kind(tmp_path: Path) -> None:
    text = GOOD.replace("      - file: /srv/shares/cnap/dovidky\n", "      - \n")
    text = text.replace("        type: directory\n", "")
    line, _, path, message = only(text, tmp_path)
    assert (line, path) == (10, "tasks[0].checks[0]")
    assert message.endswith("got none of them")


def test_relative_path(tmp_path: Path) -> None:
    text = GOOD.replace("file: /srv/shares/cnap/dovidky", "file: srv/shares/cnap")
    line, column, path, message = only(text, tmp_path)
    assert (line, column, path) == (10, 15, "tasks[0].checks[0].file")
    assert "'srv/shares/cnap' is not an absolute path" in message


def test_unknown_key_of_a_check_lists_its_kind_s_keys(tmp_path: Path) -> None:
    text = GOOD.replace(
        "        type: directory\n", "        type: directory\n        mode: 2770\n"
    )
    line, column, path, message = only(text, tmp_path)
    assert (line, column, path) == (12, 9, "tasks[0].checks[0].mode")
    assert message.startswith("unknown key 'mode' (a file check has: machine, say, file,")


def test_unknown_key_of_a_task(tmp_path: Path) -> None:
    text = GOOD.replace("    machine: file-srv\n", "    machine: file-srv\n    score: 3\n")
    line, column, path, message = only(text, tmp_path)
    assert (line, column, path) == (8, 5, "tasks[0].score")
    assert message.startswith("unknown key 'score' (allowed: id, title, machine,")


def test_a_task_whose_only_check_is_broken_says_so_once(tmp_path: Path) -> None:
    text = GOOD.replace("from: cnap-ws", "from: cnap-ws\n        port: 80")
    text = text.replace("      - file: /srv/shares/cnap/dovidky\n        type: directory\n", "")
    found = problems_of(text, tmp_path)
    assert [p.path for p in found] == ["tasks[0].checks[0]"]  # no "at least 1 item"


def test_unknown_machine_of_a_task(tmp_path: Path) -> None:
    text = GOOD.replace("machine: file-srv", "machine: file-server")
    line, column, path, message = only(text, tmp_path)
    assert (line, column, path) == (7, 14, "tasks[0].machine")
    assert message == "unknown machine 'file-server' (the profile has: cnap-ws, file-srv)"


def test_unknown_machine_of_a_check(tmp_path: Path) -> None:
    text = GOOD.replace("        type: directory\n", "        machine: db\n")
    line, _, path, message = only(text, tmp_path)
    assert (line, path) == (11, "tasks[0].checks[0].machine")
    assert message.startswith("unknown machine 'db'")


APPLIANCE = """\
community: {name: t, title: "Т", oblast: "К", kind: rural}
networks:
  - {name: office, cidr: 10.20.0.0/24}
  - {name: other, cidr: 10.21.0.0/24}
  - {name: island, cidr: 10.22.0.0/24}
machines:
  - name: ws
    image: debian-12
    memory: 512MiB
    nics: [{network: office, address: 10.20.0.10}]
  - name: far
    image: debian-12
    memory: 512MiB
    nics: [{network: other, address: 10.21.0.10}]
  - name: nas
    image: vendor-nas
    memory: 512MiB
    nics: [{network: office, address: 10.20.0.30}]
    appliance: {firmware: bios}
  - name: lone
    image: vendor-box
    memory: 512MiB
    nics: [{network: island, address: 10.22.0.30}]
    appliance: {firmware: bios}
accounts:
  - {name: clerk, kind: staff}
  - {name: trainee, kind: trainee, sudo: true}
"""

ON_APPLIANCE = """\
title: "Т"
audience: "А"
profile: small
tasks:
  - id: t
    title: "Т"
    machine: nas
    instructions: "І"
    checks:
      - port: 443
"""


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "small.yaml").write_text(APPLIANCE)
    load_profile(folder / "small.yaml")  # a valid profile
    return folder


def test_a_check_that_logs_in_is_refused_on_an_appliance(tmp_path: Path, profiles: Path) -> None:
    load_course(_write(tmp_path, ON_APPLIANCE), profiles)  # a port check is fine
    text = ON_APPLIANCE.replace("- port: 443", "- service: nginx")
    line, column, path, message = only(text, tmp_path, profiles)
    assert (line, column, path) == (10, 18, "tasks[0].checks[0].service")
    assert "'nas' is an appliance the lab does not log into" in message


def test_from_a_machine_on_another_network(tmp_path: Path, profiles: Path) -> None:
    text = ON_APPLIANCE.replace("- port: 443", "- port: 443\n        from: far")
    line, column, path, message = only(text, tmp_path, profiles)
    assert (line, column, path) == (11, 15, "tasks[0].checks[0].from")
    assert message == "'far' shares no network with 'nas' (it is on other; 'nas' on office)"


def test_no_machine_to_ask_from(tmp_path: Path, profiles: Path) -> None:
    text = ON_APPLIANCE.replace("machine: nas", "machine: lone")
    line, _, path, message = only(text, tmp_path, profiles)
    assert (line, path) == (10, "tasks[0].checks[0].port")
    assert message == "no managed machine shares a network with 'lone' to ask it from"


def test_from_an_appliance(tmp_path: Path, profiles: Path) -> None:
    text = ON_APPLIANCE.replace("machine: nas", "machine: ws").replace(
        "- port: 443", "- port: 22\n        from: nas"
    )
    _, _, path, message = only(text, tmp_path, profiles)
    assert path == "tasks[0].checks[0].from" and "is an appliance" in message


def test_share_account_must_be_staff(tmp_path: Path, profiles: Path) -> None:
    text = ON_APPLIANCE.replace(
        "- port: 443", "- share: docs\n        holds: x.txt\n        account: trainee"
    )
    line, _, path, message = only(text, tmp_path, profiles)
    assert (line, path) == (12, "tasks[0].checks[0].account")
    assert message.startswith("'trainee' is not a staff account of the profile (staff: clerk)")


def test_share_on_a_machine_that_is_no_file_server(tmp_path: Path, profiles: Path) -> None:
    text = ON_APPLIANCE.replace("machine: nas", "machine: ws").replace(
        "- port: 443", "- share: docs\n        holds: x.txt\n        account: clerk"
    )
    line, _, path, message = only(text, tmp_path, profiles)
    assert (line, path) == (10, "tasks[0].checks[0].share")
    assert message == "'ws' serves no shares: it has no role file-server (its roles: none)"


def test_unknown_profile(tmp_path: Path) -> None:
    line, column, path, message = only(GOOD.replace("rural-hromada", "rural"), tmp_path)
    assert (line, column, path) == (3, 10, "profile")
    assert message.startswith("no profile named 'rural' (the catalogue has: city-hromada,")


def test_a_profile_name_never_leaves_the_catalogue(tmp_path: Path) -> None:
    _, _, path, message = only(GOOD.replace("rural-hromada", "../profiles/tiny"), tmp_path)
    assert path == "profile" and "is not a profile name" in message


def test_an_invalid_profile_is_a_problem_at_profile(tmp_path: Path, profiles: Path) -> None:
    (profiles / "small.yaml").write_text(APPLIANCE.replace("512MiB", "512"))
    _, _, path, message = only(ON_APPLIANCE, tmp_path, profiles)
    assert path == "profile" and message.startswith("the profile 'small' is not valid:")


def test_duplicate_task_ids_are_located_at_the_second(tmp_path: Path) -> None:
    task = GOOD[GOOD.index("  - id: folder") :]
    line, _, path, message = only(GOOD + task, tmp_path)
    assert (line, path) == (16, "tasks[1].id")
    assert message == "two tasks have the id 'folder'"


def test_all_problems_of_a_file_together(tmp_path: Path) -> None:
    text = GOOD.replace("machine: file-srv", "machine: nowhere").replace(
        "type: directory", "type: folder"
    )
    text = text.replace("audience:", "audiance:")
    found = problems_of(text, tmp_path)
    assert [p.line for p in found] == [1, 2, 7, 11]  # a missing key: its mapping
    assert [p.path for p in found] == [
        "audience",
        "audiance",
        "tasks[0].machine",
        "tasks[0].checks[0].type",
    ]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "the file is empty; a course is a mapping with the keys title, audience"),
        (b"- a\n", "a course is a mapping of keys (title, audience, profile"),
        (b"title: [\n", "not valid YAML"),
    ],
)
def test_files_that_hold_no_course(data: bytes, why: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(data)
    with pytest.raises(CourseError, match="invalid course") as info:
        load_course(path, PROFILES)
    assert why in info.value.problems[0].message


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_course(tmp_path / "none.yaml", PROFILES)
    with pytest.raises(InvalidError, match="is not a regular file"):
        load_course(tmp_path, PROFILES)


def test_course_problems_is_pure_over_plain_data() -> None:
    data = yaml.safe_load(GOOD.replace("from: cnap-ws", "from: ghost"))
    profile = load_profile(PROFILES / "rural-hromada.yaml")
    assert course_problems(data, profile) == [
        (
            ("tasks", 0, "checks", 1, "from"),
            "unknown machine 'ghost' (the profile has: cnap-ws, file-srv)",
        )
    ]
    assert course_problems({"tasks": "nonsense"}, profile) == []


def test_json_schema_validates_the_samples() -> None:
    schema = course_json_schema()
    assert schema["title"] == "Hromada Lab course"
    assert set(schema["properties"]) == {"title", "audience", "profile", "description", "tasks"}
    for path in COURSES:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    broken = yaml.safe_load(GOOD.replace("type: directory", "type: folder"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_checks_in_plain_words() -> None:
    course = load_course(ROOT / "courses" / "cnap-shared-documents.yaml", PROFILES)
    task = course.task("dovidky-folder")
    assert [describe_check(task, c) for c in task.checks] == [
        "file-srv: /srv/shares/cnap/dovidky is a directory, group smb-cnap, group-writable",
        "file-srv: share cnap holds 'dovidky', seen by operator over SMB (asked from cnap-ws)",
    ]


# The catalogue and the CLI.


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    courses = tmp_path / "courses"
    courses.mkdir()
    for path in COURSES:
        (courses / path.name).write_bytes(path.read_bytes())
    (courses / "broken.yaml").write_text(GOOD.replace("rural-hromada", "rural"))
    monkeypatch.setenv("LAB_COURSES_DIR", str(courses))
    monkeypatch.setenv("LAB_PROFILES_DIR", str(PROFILES))
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_catalogue_lists_every_course_and_the_broken_one(settings: Settings) -> None:
    found = {c.name: c for c in list_courses(settings)}
    assert set(found) == {p.stem for p in COURSES} | {"broken"}
    assert found["broken"].valid is False
    assert found["broken"].error.startswith("invalid course broken.yaml (1 problem):")
    assert str(settings.courses_dir) not in found["broken"].error  # no server paths
    employee = found["new-employee"]
    assert (employee.profile, employee.tasks, employee.valid) == ("city-hromada", 5, True)
    assert employee.title_en == "A new employee: the directory and mail"
    assert isinstance(get_course(settings, "new-employee"), Course)


@pytest.mark.parametrize("name", ["../profiles/tiny", "nothing", ".hidden"])
def test_course_names_never_leave_the_catalogue(settings: Settings, name: str) -> None:
    with pytest.raises((NotFoundError, InvalidError)) as info:
        course_path(settings, name)
    assert info.value.hint and "lab course list" in info.value.hint
    assert "lab name" not in info.value.message


def test_default_catalogue_is_the_repository_s() -> None:
    assert Settings().courses_dir == ROOT / "courses"


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    course_cli.register(app)
    return app


def test_cli_list_and_show(settings: Settings, cli: typer.Typer) -> None:
    listed = CliRunner().invoke(cli, ["course", "list"])
    assert listed.exit_code == 0, listed.output
    assert "new-employee" in listed.stdout and "NO" in listed.stdout
    shown = CliRunner().invoke(cli, ["course", "show", "school-portal", "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert "1. lesson-page: A lesson page on the portal (on edu-srv, 3 points, 2 hints)" in (
        shown.stdout
    )
    assert "http://edu-srv/index.php?title=Informatyka_7A answers 200" in shown.stdout
    missing = CliRunner().invoke(cli, ["course", "show", "nothing"])
    assert missing.exit_code == 1 and "no course named 'nothing'" in missing.stderr


def test_cli_validate(settings: Settings, cli: typer.Typer, tmp_path: Path) -> None:
    good = CliRunner().invoke(cli, ["course", "validate", *map(str, COURSES)])
    assert good.exit_code == 0, good.output
    assert good.stdout.count("ok  ") == len(COURSES)
    broken = tmp_path / "b.yaml"
    broken.write_text(GOOD.replace("machine: file-srv", "machine: nowhere"))
    bad = CliRunner().invoke(cli, ["course", "validate", str(broken)])
    assert bad.exit_code == 1
    assert f"{broken}:7:14 tasks[0].machine: unknown machine 'nowhere'" in bad.stderr
    assert "lab course schema" in bad.stderr


def test_cli_schema(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["course", "schema"])
    assert result.exit_code == 0
    assert '"title": "Hromada Lab course"' in result.stdout


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    return path


def test_an_account_with_sudo_gets_it_in_the_seed(tmp_path: Path) -> None:
    """The trainee of a sample profile administers the machines (a course asks it to);
    the staff do not."""
    profile = load_profile(PROFILES / "rural-hromada.yaml")
    plan = plan_lab(profile, "demo", "hl-", tmp_path, IPv4Network("10.250.0.0/24"))
    private = tmp_path / "key"
    private.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    key = KeyPair(private=private, public=tmp_path / "key.pub", public_text="ssh-ed25519 AAAA k")
    spec = deployment.seed_spec(plan, plan.machines[0], profile, key, key)
    sudo = {a.name: a.sudo for a in spec.accounts}
    assert sudo == {"centre-admin": True, "operator": False, "starosta": False, "trainee": True}


def test_a_page_on_another_port_is_a_page_check_not_a_port_check() -> None:
    from lab.courses.model import HttpCheck, Task

    task = Task.model_validate(
        {
            "id": "page",
            "title": "Сторінка",
            "machine": "m1",
            "instructions": "Опублікуйте сторінку.",
            "checks": [{"http": "/", "port": 8080, "shows": "Вітаємо"}],
        }
    )
    (check,) = task.checks
    assert isinstance(check, HttpCheck) and check.port == 8080
