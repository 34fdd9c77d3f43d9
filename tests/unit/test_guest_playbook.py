"""Pure parts of running a tester's playbook inside the lab's machine: input checks, the
in-guest inventory and command line (lab.software.guest_playbook), reading the guest's JSON results
(lab.software.guest_results; real documents of the guest's ansible-core 2.14 under
fixtures/guest_playbook/)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.errors import InvalidError, LabError, NotFoundError
from lab.labs.plan import LabPlan, plan_lab
from lab.profile import Profile, load_profile_text
from lab.software import guest_playbook as gp
from lab.software import guest_results as gr
from lab.software.provisioning import ProvisionError

FIXTURES = Path(__file__).parent / "fixtures" / "guest_playbook"
MGMT = IPv4Network("10.250.3.0/24")
WORKDIR = "/tmp/lab-playbook.Ab3dE5gH7k"

PROFILE = """
community: {name: stack, title: "Тестова громада", oblast: O, kind: rural}
networks: [{name: office, cidr: 10.1.0.0/24}]
machines:
  - {name: srv, image: debian-12, memory: 1GiB, nics: [{network: office}],
     roles: [common, web-portal]}
  - {name: ws, image: debian-12, memory: 512MiB, nics: [{network: office}], roles: [common]}
accounts:
  - {name: operator, full_name: "Оператор", kind: staff, groups: [staff], department: cnap}
  - {name: trainee, kind: trainee}
"""


@pytest.fixture
def lab(tmp_path: Path) -> tuple[LabPlan, Profile]:
    profile = load_profile_text(PROFILE, "p.yaml")
    return plan_lab(profile, "s1", "hl-", tmp_path, MGMT), profile


# -- what is accepted as a playbook ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "a/b.yml", "../x.yml", "x" * 129, "evil\n.yml", "tab\t.yml", "\u202eeviL.yml", "nul\0"],
)
def test_hostile_playbook_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidError) as caught:
        gp.playbook_from_bytes(name, b"- hosts: all\n")
    assert "\n" not in caught.value.message and "\u202e" not in caught.value.message


def test_plain_and_ukrainian_names_are_fine() -> None:
    assert gp.playbook_from_bytes("setup.yml", b"[]\n").name == "setup.yml"
    assert gp.playbook_from_bytes("оновлення 2.1.yaml", b"[]\n").text == "[]\n"


@pytest.mark.parametrize(
    "data",
    [b"", b"x" * (gp.MAX_PLAYBOOK + 1), b"\xff\xfe- hosts: all\n", b"- hosts: all\0\n"],
    ids=["empty", "too-big", "not-utf8", "nul"],
)
def test_playbooks_that_are_not_small_texts_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidError):
        gp.playbook_from_bytes("p.yml", data)


def test_a_playbook_of_exactly_the_cap_is_accepted() -> None:
    data = b"#" * (gp.MAX_PLAYBOOK - 1) + b"\n"
    assert len(gp.playbook_from_bytes("p.yml", data).text) == gp.MAX_PLAYBOOK


def test_reading_a_playbook_refuses_devices_directories_and_big_files(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        gp.read_playbook(tmp_path / "missing.yml")
    with pytest.raises(InvalidError, match="not a regular file"):
        gp.read_playbook(Path("/dev/zero"))
    link = tmp_path / "zero.yml"
    link.symlink_to("/dev/zero")
    with pytest.raises(InvalidError, match="not a regular file"):
        gp.read_playbook(link)
    fifo = tmp_path / "fifo.yml"
    os.mkfifo(fifo)
    with pytest.raises(InvalidError, match="not a regular file"):
        gp.read_playbook(fifo)  # refused before it is opened: a FIFO would block
    with pytest.raises(InvalidError, match="not a regular file"):
        gp.read_playbook(tmp_path)
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (3 * gp.MAX_PLAYBOOK))
    with pytest.raises(InvalidError, match="1 to 1048576"):
        gp.read_playbook(big)
    good = tmp_path / "good.yml"
    good.write_text("- hosts: all\n  tasks: []\n")
    assert gp.read_playbook(good) == gp.Playbook(
        name="good.yml", text="- hosts: all\n  tasks: []\n"
    )


# -- what the guest is given ------------------------------------------------------------------


def test_the_guest_inventory_names_only_its_machine_with_a_local_connection(
    lab: tuple[LabPlan, Profile],
) -> None:
    plan, profile = lab
    inventory = gp.guest_inventory(plan.machine("ws"), [], gp.guest_vars(plan, profile))
    (top,) = inventory
    assert top == "all" and "children" not in inventory["all"]
    assert inventory["all"]["hosts"] == {
        "ws": {
            "lab_machine": "ws",
            "lab_roles": ["common"],
            "ansible_connection": "local",
            "ansible_python_interpreter": "/usr/bin/python3",
        }
    }
    variables = inventory["all"]["vars"]
    assert variables["lab_name"] == "s1" and set(variables["lab_machines"]) == {"srv", "ws"}
    # Nothing that reaches a machine from the host side travels into a guest.
    text = json.dumps(inventory)
    assert "ssh" not in text and "ansible_user" not in text and "become" not in text
    assert all("password" not in account for account in variables["lab_accounts"])
    assert [a["name"] for a in variables["lab_accounts"]] == ["operator", "trainee"]


def test_the_guest_inventory_keeps_the_groups_the_host_side_gives(
    lab: tuple[LabPlan, Profile],
) -> None:
    plan, _ = lab
    tree = {
        "all": {
            "hosts": {"srv": {}, "ws": {}},
            "children": {
                "web_portal": {"hosts": {"srv": None}},
                "office": {"children": {"desks": {"hosts": {"ws": {}}}, "servers": None}},
            },
        }
    }
    assert gp.groups_of(tree, "ws") == ["desks", "office"]
    assert gp.groups_of(tree, "srv") == ["web_portal"]
    # Today's host-side inventory has no groups but `all`: neither has the guest's.
    from lab.software import inventory as inv

    assert gp.groups_of(inv.inventory(plan, {}, Path("ssh_config")), "srv") == []
    inventory = gp.guest_inventory(plan.machine("srv"), ["web_portal"], {})
    assert inventory["all"]["children"] == {"web_portal": {"hosts": {"srv": {}}}}


def test_the_command_runs_the_guests_ansible_as_root_with_our_config_only() -> None:
    line = gp.guest_command(WORKDIR, 600)
    words = shlex.split(line)
    assert words[:3] == ["cd", WORKDIR, "&&"]
    assert words[3:6] == ["sudo", "-n", "env"]
    env = dict(w.split("=", 1) for w in words[6:] if "=" in w and w.startswith(("ANSIBLE", "LAB")))
    assert env == {
        "ANSIBLE_CONFIG": f"{WORKDIR}/ansible.cfg",
        "ANSIBLE_HOME": f"{WORKDIR}/tmp",
        "ANSIBLE_LOCAL_TEMP": f"{WORKDIR}/tmp",
        "ANSIBLE_STDOUT_CALLBACK": "lab_json",
        "ANSIBLE_CALLBACK_PLUGINS": f"{WORKDIR}/callbacks",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        "LAB_RESULT": f"{WORKDIR}/result.json",
    }
    tail = words[words.index("timeout") :]
    assert tail == [
        "timeout",
        "-k",
        "10",
        "600",
        "ansible-playbook",
        "-i",
        f"{WORKDIR}/inventory.json",
        f"{WORKDIR}/playbook.yml",
        "</dev/null",
        f"2>{WORKDIR}/stderr",
    ]
    assert gp.cleanup_command(WORKDIR) == f"sudo -n rm -rf -- {WORKDIR}"


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "/tmp",
        "/tmp/lab-playbook.x",
        "/ ; rm -rf /",
        "/tmp/lab-playbook.Ab3dE5gH7k/../..",
        "/home/labadmin",
        "/tmp/lab-playbook.Ab3dE5gH7k\n/tmp/x",
    ],
)
def test_a_working_directory_the_guest_names_is_checked(answer: str) -> None:
    # The tester is root in the guest: what it answers is data, checked before use.
    with pytest.raises(LabError):
        gp.check_workdir(answer)
    with pytest.raises(LabError):
        gp.cleanup_command(answer)


# -- what the guest said ------------------------------------------------------------------------


def _real(name: str) -> gr.GuestDocument:
    return gr.parse_document((FIXTURES / name).read_bytes())


def test_a_real_changed_run_gives_counts_per_machine() -> None:
    document = _real("changed.json")
    assert document.ansible_version.startswith("2.14.")
    run = gr.machine_run("m1", 0, document, "", 600)
    assert run.status == "successful" and run.changed == 1 and run.ok == 2
    assert not run.failures and set(run.role_seconds) == {"play"}
    result = gr.combine("gp1", [run], 12.5, "/x")
    assert result.succeeded and result.changed == {"m1": 1} and result.ok == {"m1": 2}
    gr.raise_for(result, "release.yml")  # nothing to raise


def test_a_real_failed_run_names_machine_and_task() -> None:
    run = gr.machine_run("m1", 2, _real("failed.json"), "", 600)
    assert run.status == "failed"
    (failure,) = run.failures
    assert failure.machine == "m1" and failure.task == "Check the registry service"
    assert "registry offline" in failure.message and not failure.unreachable
    with pytest.raises(ProvisionError) as caught:
        gr.raise_for(gr.combine("gp1", [run], 3.0, "/runs/1"), "break.yml")
    assert caught.value.message.startswith("applying break.yml to lab 'gp1' failed:")
    assert "machine 'm1', task 'Check the registry service': non-zero" in caught.value.message
    assert "lab apply gp1 break.yml" in caught.value.hint
    assert caught.value.artifacts == "/runs/1"


def _event(task: str, status: str, host: str = "m1", **extra: object) -> dict[str, object]:
    return {
        "event": "result",
        "play": "all",
        "task": task,
        "role": "",
        "host": host,
        "status": status,
        "ignored": False,
        "msg": "",
        "stdout": "",
        "stderr": "",
        **extra,
    }


def _document(results: list[dict[str, object]], stats: dict[str, dict[str, int]]) -> bytes:
    return json.dumps(
        {"format": 1, "ansible_version": "2.14.18", "tasks": [], "results": results, "stats": stats}
    ).encode()


def test_ignored_and_rescued_failures_are_not_failures_and_localhost_is_the_machine() -> None:
    document = gr.parse_document(
        _document(
            [
                _event("Tolerated", "failed", ignored=True, msg="ignored"),
                _event("Rescued", "failed", msg="rescued"),
                _event("Recovery", "changed"),
                _event("On localhost", "failed", host="localhost", msg="boom\u202e\x1b[31m"),
            ],
            {
                "m1": {"ok": 1, "changed": 1, "failures": 0, "ignored": 1, "rescued": 1},
                "localhost": {"ok": 0, "changed": 0, "failures": 1},
            },
        )
    )
    run = gr.machine_run("m1", 2, document, "", 600)
    (failure,) = run.failures
    assert failure.machine == "m1" and failure.task == "On localhost"
    # Whatever host the play named ran inside this machine; the guest's text is defused.
    assert failure.message == "[as host 'localhost' inside it] boom??[31m"
    assert run.changed == 1 and run.status == "failed"


def test_a_run_without_a_document_says_why() -> None:
    timed_out = gr.machine_run("m1", 124, None, "", 600)
    assert timed_out.status == "timeout"
    assert timed_out.failures[0].message == "the playbook did not finish within 600 s"
    broken = gr.machine_run("m1", 4, None, "ERROR! couldn't resolve module/action 'x'\n", 600)
    assert broken.status == "failed"
    assert "did not run: ERROR! couldn't resolve module/action 'x'" in broken.failures[0].message
    with pytest.raises(ProvisionError, match="machine 'm1': the playbook did not run"):
        gr.raise_for(gr.combine("gp1", [broken, timed_out], 1.0, ""), "x.yml")
    assert gr.combine("gp1", [broken, timed_out], 1.0, "").status == "timeout"


def test_an_exit_code_without_failures_is_still_a_failure() -> None:
    run = gr.machine_run("m1", 1, gr.parse_document(_document([], {})), "oops", 600)
    assert run.status == "failed" and "exit 1: oops" in run.failures[0].message


@pytest.mark.parametrize(
    "data", [b"", b"not json", b"[]", b'{"format": 2}', b'{"format": 1, "stats": {"m1": 3}}']
)
def test_a_document_the_lab_cannot_read_is_a_lab_error(data: bytes) -> None:
    with pytest.raises(LabError, match="cannot read"):
        gr.parse_document(data)


def test_progress_comes_from_event_lines_and_long_lines_are_dropped() -> None:
    changed = json.dumps(_event("Write it", "changed", role="web_portal")).encode()
    failed = json.dumps(_event("Check it", "failed")).encode()
    ignored = json.dumps(_event("Try it", "failed", ignored=True)).encode()
    assert gr.progress_line(changed) == "web-portal: Write it (changed)"
    assert gr.progress_line(failed) == "play: Check it FAILED"
    assert gr.progress_line(ignored) == "play: Try it failed (ignored)"
    assert gr.progress_line(json.dumps(_event("Look", "ok")).encode()) is None
    assert gr.progress_line(b'{"event": "stats", "stats": {}}') is None
    assert gr.progress_line(b"[WARNING]: something") is None

    lines: list[bytes] = []
    splitter = gr.LineSplitter(lines.append, limit=16)
    splitter.feed(b"one\ntw")
    splitter.feed(b"o\n" + b"x" * 40)
    splitter.feed(b"x" * 40 + b"\nthree\n")
    assert lines == [b"one", b"two", b"three"]


# -- the callback plugin itself, under the host's ansible-core ----------------------------------


@pytest.mark.skipif(
    shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None,
    reason="ansible-core is not installed beside this interpreter",
)
def test_the_callback_plugin_writes_the_document_the_lab_reads(tmp_path: Path) -> None:
    # The guest runs Debian's 2.14; this is the host's (2.16+), so the plugin is shown
    # to work across both. A benign playbook with a local connection, in tmp_path.
    (tmp_path / "callbacks").mkdir()
    shutil.copy(gp._CALLBACK_SOURCE, tmp_path / "callbacks" / "lab_json.py")
    (tmp_path / "ansible.cfg").write_text("")
    (tmp_path / "playbook.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - {name: Touch, ansible.builtin.file: {path: "
        + str(tmp_path / "t")
        + ", state: touch}}\n"
        "    - {name: Fail, ansible.builtin.command: /bin/false}\n"
    )
    plan_inventory = {
        "all": {
            "hosts": {
                "m1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
            }
        }
    }
    (tmp_path / "inventory.json").write_text(json.dumps(plan_inventory))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "lab_json",
        "ANSIBLE_CALLBACK_PLUGINS": str(tmp_path / "callbacks"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_HOME": str(tmp_path / "tmp"),
        "LAB_RESULT": str(tmp_path / "result.json"),
    }
    done = subprocess.run(
        ["ansible-playbook", "-i", "inventory.json", "playbook.yml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    events = [gr.progress_line(line) for line in done.stdout.splitlines()]
    assert "play: Touch (changed)" in events and "play: Fail FAILED" in events
    run = gr.machine_run(
        "m1", 2, gr.parse_document((tmp_path / "result.json").read_bytes()), "", 60
    )
    assert run.changed == 1 and [f.task for f in run.failures] == ["Fail"]


def test_what_a_guest_reports_is_bounded_in_count() -> None:
    # The tester is root in the guest and can write any document or any number of lines.
    hosts = [f"h{i}" for i in range(100)]
    document = {
        "format": 1,
        "tasks": [
            {"play": "p", "task": "t", "role": f"r{i}", "started": 0.0, "ended": 1.0}
            for i in range(200)
        ],
        "results": [_event("t", "failed", host=h, msg="x" * 10_000) for h in hosts],
        "stats": {h: {"failures": 10**9, "changed": 1} for h in hosts},
    }
    run = gr.machine_run("m1", 2, gr.parse_document(json.dumps(document).encode()), "", 60)
    assert len(run.failures) == gr.MAX_FAILURES + 1
    assert run.failures[-1].message == "and 80 more failed tasks"
    assert max(len(f.message) for f in run.failures) < 2100
    assert len(run.role_seconds) == gr.MAX_ROLES + 1 and run.role_seconds["(other roles)"] == 150
    assert run.changed == 100

    shown: list[str] = []
    relay = gr.ProgressRelay("m1", lambda machine, message: shown.append(message), limit=3)
    line = json.dumps(_event("Write it", "changed")).encode()
    for _ in range(1000):
        relay.line(line)
    assert shown == ["play: Write it (changed)"] * 3 + [
        "(more than 3 progress lines: the rest not shown)"
    ]
