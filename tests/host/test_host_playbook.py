"""playbooks/host.yml against this machine (connection local), a second time.

`make setup` (scripts/setup-host.sh) ran it first, with the variables it keeps in
.tools/host-vars.json; this runs it again through ansible-runner with the same ones: no
task may change anything or fail. Then what it set up is checked where it lives. Inside
`make test` this runs in the test namespace, which has no route out: a second run must
need no network (no apt-get update, no pip download, no npm).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import ssl
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import ansible_runner
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
HOST_VARS = REPO / ".tools" / "host-vars.json"
UNIT = Path("/etc/systemd/system/hromada-lab.service")
FIREWALL = Path("/etc/hromada-lab/firewall.nft")


@pytest.fixture(scope="module")
def host_vars() -> dict[str, Any]:
    if not HOST_VARS.is_file():
        pytest.fail(f"no {HOST_VARS}: `make setup` runs the host playbook first")
    loaded: dict[str, Any] = json.loads(HOST_VARS.read_text())
    return loaded


@pytest.fixture(scope="module")
def second_run(host_vars: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    bindir = str(Path(sys.executable).parent)
    return ansible_runner.run(
        private_data_dir=str(tmp_path_factory.mktemp("host-playbook")),
        playbook=str(REPO / "playbooks" / "host.yml"),
        inventory="localhost ansible_connection=local",
        extravars=host_vars,
        envvars={
            "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
        },
        quiet=True,
        timeout=300,
    )


def test_second_run_changes_nothing(second_run: Any) -> None:
    changed = [
        f"{e['event_data'].get('task')}: {e['event_data'].get('res', {}).get('msg', '')}"
        for e in second_run.events
        if e.get("event") == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")
    ]
    failed = [
        f"{e['event_data'].get('task')}: {e['event_data'].get('res', {}).get('msg', '')}"
        for e in second_run.events
        if e.get("event") in ("runner_on_failed", "runner_on_unreachable")
    ]
    assert second_run.status == "successful", failed or second_run.stdout.read()[-3000:]
    assert failed == []
    assert changed == [], "not idempotent: these tasks changed on the second run"
    assert second_run.stats["ok"].get("localhost", 0) > 10  # the play really ran its tasks
    skipped = {
        e["event_data"].get("task")
        for e in second_run.events
        if e.get("event") == "runner_on_skipped"
    }
    # Everything is installed already: no apt-get update, so no network needed.
    assert "Install the missing Debian packages" in skipped


def test_service_user_can_use_libvirt_and_owns_lab_home(host_vars: dict[str, Any]) -> None:
    user = host_vars.get("lab_host_user", "hromada-lab")
    home = Path(host_vars.get("lab_host_home", "/var/lib/hromada-lab"))
    entry = pwd.getpwnam(user)
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    assert {"libvirt", "kvm"} <= groups
    assert entry.pw_shell == "/usr/sbin/nologin"
    for directory in (home, home / "images"):
        st = directory.stat()
        assert st.st_uid == entry.pw_uid, f"{directory} is not owned by {user}"
        assert stat.S_IMODE(st.st_mode) == 0o755  # libvirt-qemu traverses to the disks
    env = Path("/etc/hromada-lab/lab.env")
    assert f"LAB_HOME={home}\n" in env.read_text()
    assert stat.S_IMODE(env.stat().st_mode) == 0o640


def test_unit_runs_lab_serve_from_the_venv_as_the_service_user(host_vars: dict[str, Any]) -> None:
    venv = Path(host_vars.get("lab_host_venv", REPO / ".venv"))
    text = UNIT.read_text()
    tls = "/etc/hromada-lab/tls"
    if host_vars.get("lab_host_tls", "self-signed") == "none":
        serve = "--host 127.0.0.1 --port 8080"  # plain HTTP: loopback only
    else:
        serve = f"--host 0.0.0.0 --port 8080 --tls-cert {tls}/cert.pem --tls-key {tls}/key.pem"
    assert f"ExecStart={venv}/bin/lab serve {serve}\n" in text
    assert f"User={host_vars.get('lab_host_user', 'hromada-lab')}\n" in text
    assert "EnvironmentFile=/etc/hromada-lab/lab.env\n" in text
    lab = subprocess.run(
        [venv / "bin" / "lab", "serve", "--help"], capture_output=True, text=True, check=False
    )
    assert lab.returncode == 0 and "--port" in lab.stdout, lab.stderr
    if shutil.which("systemd-analyze"):  # the unit as systemd itself reads it
        check = subprocess.run(
            ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, check=False
        )
        assert "hromada-lab.service" not in check.stderr, check.stderr


def test_the_tls_key_is_readable_by_root_and_the_service_group_only(
    host_vars: dict[str, Any],
) -> None:
    if host_vars.get("lab_host_tls", "self-signed") == "none":
        pytest.skip("lab_host_tls=none: no certificate")
    tls = Path("/etc/hromada-lab/tls")
    group = grp.getgrnam(host_vars.get("lab_host_user", "hromada-lab")).gr_gid
    key = (tls / "key.pem").stat()
    assert (key.st_uid, key.st_gid, stat.S_IMODE(key.st_mode)) == (0, group, 0o640)
    assert stat.S_IMODE(tls.stat().st_mode) == 0o750
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls / "cert.pem", tls / "key.pem")  # a matching pair


def test_firewall_ruleset_is_installed_and_valid() -> None:
    text = FIREWALL.read_text()
    assert "table inet hromada_lab {" in text and 'iifname "hlb-*" drop' in text
    check = subprocess.run(["nft", "-c", "-f", str(FIREWALL)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert Path("/etc/systemd/system/hromada-lab-firewall.service").is_file()
    # The guest firewall, the very file scripts/labns loads into the test namespaces.
    guests = REPO / "playbooks" / "files" / "hromada-lab-guests.nft"
    assert Path("/etc/hromada-lab/guests.nft").read_text() == guests.read_text()
