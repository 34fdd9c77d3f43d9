"""A tester's playbook runs inside the lab's own machine, never on the host.

Ansible runs a playbook's "controller side" (`delegate_to: localhost`, `local_action`,
lookups, `hosts: localhost`, `ansible_connection: local`, vars files, templates) on
whichever machine runs `ansible-playbook`. So the host does not run it at all: for each
targeted machine the playbook travels as data (at most `MAX_PLAYBOOK` bytes) over the
lab's admin SSH path (pinned host key) into a fresh private directory in the guest,
beside an inventory naming only that machine with `ansible_connection=local`, and the
guest's own ansible-core runs it as root there. Anything "local" is then the guest, which
the tester may change at will anyway. The host only reads back what our callback plugin
(`lab/software/guest_callback/lab_json.py`) wrote: JSON event lines as progress, one JSON
document as the result, both bounded in size and treated as untrusted data.

Pure parts (checks, inventory, command line) are separate from the one function that
talks to a guest, `run_in_machine`; reading what the guest said is `lab.software.guest_results`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paramiko
from pydantic import BaseModel, ConfigDict

from lab.base import Progress
from lab.errors import InvalidError, LabError, NotFoundError
from lab.labs import guest
from lab.labs.deployment import admin_address
from lab.labs.plan import LabPlan, MachinePlan
from lab.profile import Profile
from lab.software import inventory as inv
from lab.software.guest_results import (
    TEXT,
    LineSplitter,
    MachineRun,
    ProgressRelay,
    clean,
    combine,
    machine_run,
    parse_document,
)
from lab.software.provisioning import ProvisionResult, TaskFailure

MAX_PLAYBOOK = 1 << 20  # bytes: a playbook is text; anything bigger is not one
MAX_DOCUMENT = 8 << 20  # bytes of the result document read back from a guest
STDERR_TAIL = 4096  # bytes of ansible-playbook's stderr kept (its own errors land there)
RUN_TIMEOUT = 3600  # seconds one machine's run may take (enforced in the guest too)
GUEST_PYTHON = "/usr/bin/python3"
CALLBACK = "lab_json"
NO_ANSIBLE = 42  # exit code of the preparing command when the guest has no ansible-core
_KEEP_RUNS = 10
_WORKDIR = re.compile(r"/tmp/lab-playbook\.[A-Za-z0-9]{10}")
_CALLBACK_SOURCE = Path(__file__).parent / "guest_callback" / "lab_json.py"

# Makes the private directory; fails with NO_ANSIBLE first if the image predates
# ansible-core. The directory is the admin user's, 0700: the playbook stays private.
PREPARE = (
    f"command -v ansible-playbook >/dev/null 2>&1 || exit {NO_ANSIBLE}; "
    'd=$(mktemp -d /tmp/lab-playbook.XXXXXXXXXX) && mkdir "$d/callbacks" "$d/tmp" '
    '&& : >"$d/ansible.cfg" && echo "$d"'
)


class Playbook(BaseModel):
    """A playbook as data: its file name (for messages) and its text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    text: str


# -- input checks (pure) ------------------------------------------------------------------


def check_name(name: str) -> None:
    """A playbook's file name is shown in messages only; it must be fit to show."""
    if not 1 <= len(name) <= 128 or not name.isprintable() or "/" in name or "\\" in name:
        raise InvalidError(
            f"{_quote(name)} cannot name a playbook",
            hint="use a plain file name of printable characters (at most 128), e.g. setup.yml",
        )


def playbook_from_bytes(name: str, data: bytes) -> Playbook:
    """Check an uploaded playbook: a named, non-empty UTF-8 text of at most 1 MiB."""
    check_name(name)
    if not data or len(data) > MAX_PLAYBOOK:
        raise InvalidError(
            f"the playbook {name} is {len(data)} bytes; 1 to {MAX_PLAYBOOK} are accepted",
            hint="a playbook is a YAML text; put large files into a .deb package instead",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidError(
            f"the playbook {name} is not UTF-8 text", hint="a playbook is a YAML file"
        ) from exc
    if "\x00" in text:
        raise InvalidError(
            f"the playbook {name} holds a NUL byte", hint="a playbook is a YAML file"
        )
    return Playbook(name=name, text=text)


def read_playbook(path: Path) -> Playbook:
    """Read a playbook file from the host: a regular file only (a device or a FIFO is
    refused before anything is read from it), never more than the cap."""
    check_name(path.name)
    try:
        # Non-blocking, so that opening a FIFO cannot hang; the file opened is the one
        # checked (fstat), not whatever the name points to a moment later.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFoundError(
            f"no playbook {_quote(str(path))} ({exc.strerror or 'cannot open it'})",
            hint="give the path of an existing file",
        ) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidError(
            f"{_quote(str(path))} is not a regular file", hint="give the playbook's YAML file"
        )
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_PLAYBOOK + 1)
    return playbook_from_bytes(path.name, data)


# -- what the guest is given (pure) ---------------------------------------------------------


def groups_of(tree: Mapping[str, Any], machine: str) -> list[str]:
    """The groups (but `all`) that hold `machine` in an Ansible YAML-style inventory."""
    found: set[str] = set()

    def walk(name: str, group: Mapping[str, Any]) -> bool:
        inside = machine in (group.get("hosts") or {})
        for child, sub in (group.get("children") or {}).items():
            inside = walk(str(child), sub or {}) or inside
        if inside and name != "all":
            found.add(name)
        return inside

    for name, group in tree.items():
        walk(str(name), group or {})
    return sorted(found)


def guest_vars(plan: LabPlan, profile: Profile) -> dict[str, Any]:
    """The lab's variables as the roles see them, but without any password: the file
    lands in a machine the tester controls, and a template may share these passwords."""
    variables = inv.lab_vars(plan, profile, {a.name: "" for a in profile.accounts})
    variables["lab_accounts"] = [
        {k: v for k, v in account.items() if k != "password"}
        for account in variables["lab_accounts"]
    ]
    return variables


def guest_inventory(
    machine: MachinePlan, groups: Sequence[str], variables: Mapping[str, Any]
) -> dict[str, Any]:
    """A YAML inventory (written as JSON, which YAML reads) naming only `machine`, with
    the groups the host-side inventory gives it, reached by a local connection."""
    host = {
        "lab_machine": machine.name,
        "lab_roles": list(machine.roles),
        "ansible_connection": "local",
        "ansible_python_interpreter": GUEST_PYTHON,
    }
    tree: dict[str, Any] = {"hosts": {machine.name: host}, "vars": dict(variables)}
    if groups:
        tree["children"] = {g: {"hosts": {machine.name: {}}} for g in groups}
    return {"all": tree}


def check_workdir(text: str) -> str:
    """The directory the guest's `mktemp` made (the guest is not trusted to name it)."""
    workdir = text.strip()
    if not _WORKDIR.fullmatch(workdir):
        raise LabError(
            f"the machine answered {_quote(workdir)} for its working directory",
            hint="expected /tmp/lab-playbook.XXXXXXXXXX from mktemp; is the image ours?",
        )
    return workdir


def guest_command(workdir: str, timeout: int = RUN_TIMEOUT) -> str:
    """The shell line that runs the playbook in the guest as root, its own ansible-core
    configured only by this environment (an empty ansible.cfg of ours, our callback)."""
    check_workdir(workdir)
    env = {
        "ANSIBLE_CONFIG": f"{workdir}/ansible.cfg",
        "ANSIBLE_HOME": f"{workdir}/tmp",
        "ANSIBLE_LOCAL_TEMP": f"{workdir}/tmp",
        "ANSIBLE_STDOUT_CALLBACK": CALLBACK,
        "ANSIBLE_CALLBACK_PLUGINS": f"{workdir}/callbacks",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        "LAB_RESULT": f"{workdir}/result.json",
    }
    argv = [
        "sudo",
        "-n",
        "env",
        *(f"{k}={v}" for k, v in env.items()),
        "timeout",
        "-k",
        "10",
        str(timeout),
        "ansible-playbook",
        "-i",
        f"{workdir}/inventory.json",
        f"{workdir}/playbook.yml",
    ]
    line = " ".join(shlex.quote(a) for a in argv)
    return f"cd {shlex.quote(workdir)} && {line} </dev/null 2>{shlex.quote(workdir + '/stderr')}"


def cleanup_command(workdir: str) -> str:
    return f"sudo -n rm -rf -- {shlex.quote(check_workdir(workdir))}"


# -- running it ------------------------------------------------------------------------------


def apply(
    plan: LabPlan,
    profile: Profile,
    playbook: Playbook,
    machines: Sequence[str],
    progress: Progress,
    timeout: int = RUN_TIMEOUT,
) -> ProvisionResult:
    """Run `playbook` inside each of `machines` (side by side); the result says what
    happened (no exception for a failed task: see `raise_for`)."""
    variables = guest_vars(plan, profile)
    host_side = inv.inventory(plan, {}, plan.directory / "ssh_config")
    artifacts = _artifacts_dir(plan)
    started = time.monotonic()

    def one(name: str) -> MachineRun:
        machine = plan.machine(name)
        inventory = guest_inventory(machine, groups_of(host_side, name), variables)
        try:
            return run_in_machine(
                admin_address(plan, machine),
                name,
                playbook,
                inventory,
                progress,
                artifacts,
                timeout,
            )
        except LabError as exc:  # this machine could not run it; the others still do
            progress(name, f"FAILED: {exc.message}")
            return MachineRun(
                machine=name,
                status="failed",
                failures=(
                    TaskFailure(
                        machine=name,
                        role="",
                        task="",
                        message=f"{exc.message} ({exc.hint})" if exc.hint else exc.message,
                        unreachable=isinstance(exc, guest.GuestUnreachableError),
                    ),
                ),
            )

    with ThreadPoolExecutor(max_workers=max(1, len(machines))) as pool:
        runs = list(pool.map(one, machines))
    return combine(plan.lab, runs, time.monotonic() - started, str(artifacts))


def run_in_machine(
    addr: guest.GuestAddress,
    machine: str,
    playbook: Playbook,
    inventory: Mapping[str, Any],
    progress: Progress,
    artifacts: Path,
    timeout: int = RUN_TIMEOUT,
) -> MachineRun:
    """Copy the playbook into the machine, run it there with the guest's ansible-core,
    read back the result document, remove the directory again."""
    client = guest.connect(addr, timeout=10)
    try:
        prepared = guest.run_on(client, addr, PREPARE, 60)
        if prepared.exit_code == NO_ANSIBLE:
            raise LabError(
                f"machine '{machine}' has no ansible-core, so it cannot run a playbook",
                hint="its image predates playbooks in the guest: rebuild it (lab image build "
                "images/debian-12.yaml, then lab prepare PROFILE for role images) and bring "
                "the lab up again",
            )
        if prepared.exit_code != 0:
            raise LabError(
                f"machine '{machine}' could not make a working directory: "
                + clean(prepared.stderr, TEXT),
                hint="is its /tmp full or read-only? `lab ssh` into it to look",
            )
        workdir = check_workdir(prepared.stdout)
        try:
            guest.put_file(client, addr, f"{workdir}/playbook.yml", playbook.text.encode())
            guest.put_file(
                client, addr, f"{workdir}/inventory.json", json.dumps(inventory).encode()
            )
            guest.put_file(
                client, addr, f"{workdir}/callbacks/{CALLBACK}.py", _CALLBACK_SOURCE.read_bytes()
            )
            progress(machine, f"running {playbook.name} in the machine (its own ansible-core)")

            lines = LineSplitter(ProgressRelay(machine, progress).line)
            ran = guest.run_on(
                client, addr, guest_command(workdir, timeout), timeout + 60, on_stdout=lines.feed
            )
            raw = guest.read_file(client, addr, f"{workdir}/result.json", MAX_DOCUMENT)
            stderr = guest.read_file(client, addr, f"{workdir}/stderr", STDERR_TAIL, tail=True)
        finally:
            _remove(client, addr, machine, workdir, progress)
    finally:
        client.close()
    _keep(artifacts, machine, raw, stderr or b"")
    document = parse_document(raw) if raw else None
    stderr_text = (stderr or b"").decode("utf-8", errors="replace")
    return machine_run(machine, ran.exit_code, document, stderr_text, timeout)


def _remove(
    client: paramiko.SSHClient,
    addr: guest.GuestAddress,
    machine: str,
    workdir: str,
    progress: Progress,
) -> None:
    # Best effort: a failure here must not hide the run's own outcome.
    try:
        gone = guest.run_on(client, addr, cleanup_command(workdir), 60)
    except LabError as exc:
        progress(machine, f"could not remove {workdir}: {exc.message}")
        return
    if gone.exit_code != 0:
        progress(machine, f"could not remove {workdir}: {clean(gone.stderr, 200)}")


def _artifacts_dir(plan: LabPlan) -> Path:
    """`labs/LAB/ansible/guest/<time>/`: each machine's result document and stderr tail;
    the last ten runs are kept (0700: they hold what the playbook printed)."""
    (plan.directory / "ansible").mkdir(mode=0o700, parents=True, exist_ok=True)
    base = plan.directory / "ansible" / "guest"
    base.mkdir(mode=0o700, exist_ok=True)
    for old in sorted(p for p in base.iterdir() if p.is_dir())[: -(_KEEP_RUNS - 1) or None]:
        shutil.rmtree(old, ignore_errors=True)
    run = base / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run.mkdir(mode=0o700)
    return run


def _keep(directory: Path, machine: str, document: bytes | None, stderr: bytes) -> None:
    for name, data in ((f"{machine}.json", document), (f"{machine}.stderr", stderr)):
        if data:
            fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)


def _quote(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")
