"""Pure parts of the software stack: role catalogue, role images, inventory, JUnit parsing."""

from __future__ import annotations

import os
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.errors import InvalidError, NotFoundError
from lab.host.model import HostTarget, SshJump
from lab.images import role_images
from lab.images.recipe import load_recipe
from lab.labs import ssh_config
from lab.labs.plan import plan_lab
from lab.profile import load_profile_text
from lab.software import inventory, provisioning, roles, verification
from lab.software.verify_plugin import role_of

REPO = Path(__file__).parents[2]
MGMT = IPv4Network("10.250.3.0/24")

PROFILE = """
community: {name: stack, title: "Тестова громада", oblast: O, kind: rural}
networks: [{name: office, cidr: 10.1.0.0/24}]
machines:
  - {name: srv, image: debian-12, memory: 1GiB, nics: [{network: office, address: 10.1.0.5}],
     roles: [common, web-portal]}
  - {name: ws, image: debian-12, memory: 512MiB, nics: [{network: office}], roles: [common]}
accounts:
  - {name: operator, full_name: "Оператор", kind: staff, groups: [staff], department: cnap}
  - {name: starosta, kind: staff}
  - {name: trainee, kind: trainee}
tests:
  - {name: up, run: "true", quick: true}
"""


def _role(root: Path, directory: str, packages: list[str] | None) -> None:
    (root / "roles" / directory / "tasks").mkdir(parents=True)
    (root / "roles" / directory / "tasks" / "main.yml").write_text("[]\n")
    if packages is not None:
        (root / "roles" / directory / "vars").mkdir()
        body = "\n".join(f"  - {p}" for p in packages)
        (root / "roles" / directory / "vars" / "main.yml").write_text(
            f"{directory}_packages:\n{body}\n"
        )
    (root / "roles" / directory / "tests").mkdir()
    (root / "roles" / directory / "tests" / f"test_{directory}.py").write_text("")


@pytest.fixture
def playbooks(tmp_path: Path) -> Path:
    root = tmp_path / "playbooks"
    _role(root, "common", ["locales", "python3-apt"])
    _role(root, "web_portal", ["nginx", "locales"])
    return root


def test_roles_map_profile_names_to_identifier_directories(playbooks: Path) -> None:
    assert roles.available(playbooks) == ["common", "web-portal"]
    role = roles.load_role(playbooks, "web-portal")
    assert role.ansible_name == "web_portal"
    assert role.packages == ("nginx", "locales")
    assert [t.name for t in role.tests] == ["test_web_portal.py"]


def test_the_host_role_is_no_guest_role() -> None:
    # playbooks/host/ (host.yml's role) lives apart: profiles cannot name it, prepare and
    # lab test never see it.
    repo_playbooks = Path(__file__).parents[2] / "playbooks"
    guest = roles.available(repo_playbooks)
    assert "common" in guest and (repo_playbooks / "host" / "lab_host" / "tasks").is_dir()
    assert not any("host" in name for name in guest)


def test_unknown_roles_are_named_together_with_what_exists(playbooks: Path) -> None:
    profile = load_profile_text(PROFILE.replace("[common]}", "[common, mail, dns]}"), "p.yaml")
    with pytest.raises(NotFoundError) as caught:
        roles.check_profile(playbooks, profile)
    assert "machines.ws: role 'mail'" in caught.value.message
    assert "machines.ws: role 'dns'" in caught.value.message
    assert "common, web-portal" in caught.value.hint


def test_a_package_list_with_jinja_or_a_mapping_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "playbooks"
    _role(root, "bad", None)
    (root / "roles" / "bad" / "vars").mkdir()
    (root / "roles" / "bad" / "vars" / "main.yml").write_text("bad_packages: {a: 1}\n")
    with pytest.raises(InvalidError, match="must be a list"):
        roles.load_role(root, "bad")


def test_machines_with_the_same_packages_share_one_role_image(playbooks: Path) -> None:
    profile = load_profile_text(PROFILE, "p.yaml")
    srv, ws = profile.machines
    assert roles.packages_for(playbooks, ws) == ("locales", "python3-apt")
    assert roles.packages_for(playbooks, srv) == ("locales", "nginx", "python3-apt")
    a = role_images.role_image_name("debian-12", ("nginx", "locales"))
    b = role_images.role_image_name("debian-12", ("locales", "nginx"))
    assert a == b and a.startswith("debian-12.roles-")
    assert a != role_images.role_image_name("debian-12", ("nginx",))


def test_role_recipe_adds_only_missing_packages_to_the_base() -> None:
    base = load_recipe(REPO / "images" / "debian-12.yaml")
    recipe = role_images.role_recipe(base, ("nginx", "sudo", "locales"))
    assert recipe.packages[: len(base.packages)] == base.packages
    assert recipe.packages[len(base.packages) :] == ("locales", "nginx")
    assert recipe.name == role_images.role_image_name("debian-12", ("nginx", "sudo", "locales"))


def test_lab_vars_carry_accounts_departments_and_machines(tmp_path: Path) -> None:
    profile = load_profile_text(PROFILE, "p.yaml")
    plan = plan_lab(profile, "s1", "hl-", tmp_path, MGMT)
    passwords = {"operator": "pw-o", "starosta": "pw-s", "trainee": "pw-t"}
    data = inventory.lab_vars(plan, profile, passwords)
    assert data["lab_domain"] == "stack.lab"
    assert data["lab_community"]["title"] == "Тестова громада"
    # Staff without a department share the default one; trainees are in none.
    assert data["lab_departments"] == {"cnap": ["operator"], "staff": ["starosta"]}
    assert data["lab_machines"]["srv"]["addresses"] == {"office": "10.1.0.5"}
    assert data["lab_machines"]["srv"]["roles"] == ["common", "web-portal"]
    assert data["lab_time_server"] == "10.250.3.1"
    assert [a["password"] for a in data["lab_accounts"]] == ["pw-o", "pw-s", "pw-t"]


def test_one_play_runs_each_role_only_where_the_profile_gives_it(tmp_path: Path) -> None:
    plan = plan_lab(load_profile_text(PROFILE, "p.yaml"), "s1", "hl-", tmp_path, MGMT)
    (play,) = inventory.playbook(plan)
    assert play["hosts"] == "all" and play["gather_facts"] is False
    assert play["roles"] == [
        {"role": "common", "when": "'common' in lab_roles"},
        {"role": "web_portal", "when": "'web-portal' in lab_roles"},
    ]
    inv = inventory.inventory(plan, {"lab_name": "s1"}, tmp_path / "ssh_config")
    assert inv["all"]["hosts"]["ws"]["lab_roles"] == ["common"]
    assert inv["all"]["vars"]["ansible_ssh_common_args"] == f"-F {tmp_path / 'ssh_config'}"


def test_ssh_config_pins_host_keys_and_names_machines(tmp_path: Path) -> None:
    plan = plan_lab(load_profile_text(PROFILE, "p.yaml"), "s1", "hl-", tmp_path, MGMT)
    text = ssh_config.render_ssh_config(plan)
    assert "Host srv\n  HostName 10.250.3.10\n  User labadmin\n" in text
    assert f"UserKnownHostsFile {plan.known_hosts}" in text
    assert text.count("StrictHostKeyChecking yes") == 2


def test_a_lab_on_another_server_is_reached_through_it(tmp_path: Path) -> None:
    jump = SshJump(user="hromada-lab", host="lab2", port=2222, known_hosts=Path("/etc/kh"))
    target = HostTarget(name="lab2", pool_path=Path("/pool"), jump=jump)
    plan = plan_lab(load_profile_text(PROFILE, "p.yaml"), "s1", "hl-", tmp_path, MGMT, target)
    text = ssh_config.render_ssh_config(plan)
    assert text.startswith(
        f"Host {ssh_config.JUMP}\n  HostName lab2\n  Port 2222\n  User hromada-lab\n"
        "  UserKnownHostsFile /etc/kh\n  StrictHostKeyChecking yes\n"
    )
    assert "IdentityFile /" not in text.split("\n\n")[0]  # its own keys: ~/.ssh's
    assert text.count(f"ProxyJump {ssh_config.JUMP}\n") == 2  # every machine, through it
    assert text.count("StrictHostKeyChecking yes") == 3


def test_role_of_a_test_module_comes_from_its_path() -> None:
    assert role_of(Path("/x/playbooks/roles/web_portal/tests/test_web_portal.py")) == "web_portal"
    assert role_of(Path("/x/lab/software/verify_checks.py")) is None


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="" name="test_front_page[srv]" time="1.5"><properties>
<property name="role" value="web-portal"/><property name="machine" value="srv"/>
<property name="test" value="test_front_page"/></properties>
<failure message="AssertionError: portal front page does not show 'Тестова громада'">trace
</failure></testcase>
<testcase classname="" name="test_profile_check[up@ws]" time="0.5"><properties>
<property name="role" value="profile"/><property name="machine" value="ws"/>
<property name="test" value="up"/></properties></testcase>
</testsuite></testsuites>"""


def test_junit_report_becomes_results_with_role_machine_and_message() -> None:
    failed, ok = verification.parse_junit(JUNIT)
    assert (failed.role, failed.name, failed.machine) == ("web-portal", "test_front_page", "srv")
    assert failed.outcome is verification.Outcome.FAILED
    assert "Тестова громада" in failed.message
    assert (ok.role, ok.name, ok.machine, ok.outcome) == ("profile", "up", "ws", "passed")


def test_redact_blanks_passwords_in_kept_artifacts(tmp_path: Path) -> None:
    from lab.software.provisioning import redact

    (tmp_path / "job_events").mkdir()
    event = tmp_path / "job_events" / "1.json"
    event.write_text('{"lab_accounts": [{"password": "s3cret-Pw"}], "ok": "Київ"}')
    (tmp_path / "stdout").write_text("nothing secret\n")
    redact(tmp_path, ["s3cret-Pw"])
    assert "s3cret-Pw" not in event.read_text() and "Київ" in event.read_text()
    assert (tmp_path / "stdout").read_text() == "nothing secret\n"


def _result(machine: str, role: str, outcome: verification.Outcome) -> verification.CheckResult:
    return verification.CheckResult(
        name=f"test_{role}", machine=machine, role=role, outcome=outcome, seconds=0.1
    )


def test_a_role_whose_tests_were_all_skipped_is_not_verified() -> None:
    passed, skipped = verification.Outcome.PASSED, verification.Outcome.SKIPPED
    ran = (_result("ws", "common", passed), _result("ws", "workstation", passed))
    assert verification.verdict(ran)
    # Some skipped beside passes of the same role: verified, and reported as skipped.
    assert verification.verdict((*ran, _result("ws", "workstation", skipped)))
    # Every test of a role skipped: not verified.
    assert not verification.verdict((*ran, _result("ws", "mail", skipped)))
    assert not verification.verdict((_result("ws", "common", skipped),))
    assert not verification.verdict(())
    assert not verification.verdict((*ran, _result("ws", "common", verification.Outcome.ERROR)))


def test_a_run_that_started_no_task_has_no_role_times() -> None:
    # A play whose hosts matched nothing starts no task; its stats still arrive.
    tracker = provisioning._Tracker(lambda _s, _m: None)
    tracker.event({"event": "playbook_on_stats", "event_data": {}})
    assert tracker.role_seconds() == {}
    tracker.event({"event": "playbook_on_task_start", "event_data": {"role": "web_portal"}})
    assert set(tracker.role_seconds()) == {"web-portal"}


def test_probe_tests_are_collected_on_their_runner_and_empty_kinds_deselected(
    tmp_path: Path,
) -> None:
    """A profile with probe tests only: each probe runs on the managed machine that reaches
    the appliance, and the command-check placeholder is not reported (as skipped)."""
    import json
    import subprocess
    import sys

    spec = {"kind": "http", "machine": "box", "address": "10.77.0.20", "port": 80}
    context = {
        "lab_machines": {"ws": {"roles": []}},
        "checks": [],
        "probes": [{"name": "page", "machine": "box", "runner": "ws", "spec": spec}],
        "ssh_config": "/dev/null",
    }
    (tmp_path / "context.json").write_text(json.dumps(context))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    argv = [sys.executable, "-m", "pytest", "-p", "lab.software.verify_plugin"]
    argv += ["-p", "no:cacheprovider", "-p", "no:pytest11.testinfra", "-c", "pytest.ini"]
    argv += ["--import-mode=importlib", "--collect-only", "-q", str(verification._CHECKS_MODULE)]
    env = {**os.environ, "LAB_VERIFY_CONTEXT": str(tmp_path / "context.json")}
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_profile_probe[page@box]" in proc.stdout
    assert "1 deselected" in proc.stdout and "test_profile_check" not in proc.stdout
