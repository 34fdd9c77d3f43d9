"""pytest plugin behind `lab test`: the `host` and `lab` fixtures for roles' testinfra tests.

Loaded with `-p lab.software.verify_plugin`; reads the lab's description from the JSON file named
by LAB_VERIFY_CONTEXT (written by lab.software.verification, mode 0600). A test module under
`playbooks/roles/ROLE/tests/` runs once per machine that has ROLE; the profile's own
checks (`tests:` in YAML, module lab/software/verify_checks.py) run on the machines they name.
`host` is a testinfra Host over OpenSSH with the lab's ssh_config (pinned host keys).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import testinfra

CONTEXT_ENV = "LAB_VERIFY_CONTEXT"


@functools.cache
def context() -> dict[str, Any]:
    path = os.environ.get(CONTEXT_ENV)
    if not path:
        raise pytest.UsageError(f"{CONTEXT_ENV} is not set: run these tests with `lab test LAB`")
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def role_of(module: Path) -> str | None:
    """`.../roles/web_portal/tests/test_x.py` -> `web_portal`; None outside a role."""
    parts = module.resolve().parts
    if len(parts) >= 4 and parts[-2] == "tests" and parts[-4] == "roles":
        return parts[-3]
    return None


def machines_with(role: str | None) -> list[str]:
    machines: dict[str, Any] = context()["lab_machines"]
    if role is None:
        return sorted(machines)
    return [
        name
        for name, machine in machines.items()
        if role in {r.replace("-", "_") for r in machine["roles"]}
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "probe" in metafunc.fixturenames:
        probes = context().get("probes", [])
        metafunc.parametrize(
            ("host", "probe"),
            [(p["runner"], p) for p in probes],
            indirect=["host"],
            ids=[f"{p['name']}@{p['machine']}" for p in probes],
        )
    elif "check" in metafunc.fixturenames:
        pairs = [
            (machine, check)
            for check in context()["checks"]
            for machine in sorted(context()["lab_machines"])
            if check["machine"] in (None, machine)
        ]
        metafunc.parametrize(
            ("host", "check"),
            pairs,
            indirect=["host"],
            ids=[f"{check['name']}@{machine}" for machine, check in pairs],
        )
    elif "host" in metafunc.fixturenames:
        machines = machines_with(role_of(Path(str(metafunc.definition.path))))
        metafunc.parametrize("host", machines, indirect=True, ids=machines)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Label every item (JUnit <properties>) with its role, machine and test name. A
    profile with probe tests only (or command checks only) leaves the other kind with
    no parameters: those placeholders are deselected, not reported as skipped."""
    empty = [item for item in items if _placeholder(item)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        module = Path(str(item.path))
        role = role_of(module)
        check = params.get("check") or params.get("probe")
        name = check["name"] if check else getattr(item, "originalname", item.name)
        others = [str(v) for k, v in params.items() if k not in ("host", "check", "probe")]
        if others:
            name += f"[{','.join(others)}]"
        probe = params.get("probe")
        item.user_properties += [
            ("role", role.replace("_", "-") if role else "profile"),
            ("machine", probe["machine"] if probe else str(params.get("host", ""))),
            ("test", name),
        ]


def _placeholder(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    return any(k in params and not isinstance(params[k], dict) for k in ("check", "probe"))


# testinfra runs each command as its own `ssh`. Without a control socket every one of them
# is a new key exchange, which costs the guest's emulated CPU most of a second; with one,
# the commands of a run share one connection per machine. The sockets live in a private
# directory of this run (never shared between labs, runs or network namespaces: a socket
# reaches whatever its connection reached), removed at the end; an idle master connection
# ends by itself after CONTROL_PERSIST seconds.
CONTROL_PERSIST = 20
_SOCKET_ROOM = 100  # a Unix socket path has 108 bytes; %C expands to 40


@functools.cache
def control_dir() -> Path | None:
    path = Path(tempfile.mkdtemp(prefix="lab-verify-ssh-"))
    if len(str(path / ("x" * 40))) > _SOCKET_ROOM:
        path.rmdir()
        return None
    return path


def pytest_sessionfinish(session: pytest.Session) -> None:
    if control_dir.cache_info().currsize:
        found = control_dir()
        if found is not None:
            shutil.rmtree(found, ignore_errors=True)


def ssh_host(machine: str, ssh_config: str) -> Any:
    """A testinfra Host for `machine` over OpenSSH with `ssh_config`, its commands sharing
    one connection when a control directory could be made (see `control_dir`)."""
    found = control_dir()
    return testinfra.get_host(
        f"ssh://{machine}",
        ssh_config=ssh_config,
        # testinfra fills its command line in with `%`: the socket name is %C to ssh.
        controlpath=None if found is None else str(found / "%%C"),
        controlpersist=CONTROL_PERSIST,
    )


@pytest.fixture
def host(request: pytest.FixtureRequest) -> Any:
    """A testinfra Host for the machine this test item runs on."""
    return ssh_host(str(request.param), context()["ssh_config"])


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The lab as the roles saw it (their Ansible variables), plus `machine`."""
    data = {k: v for k, v in context().items() if k.startswith("lab_")}
    callspec = getattr(request.node, "callspec", None)
    data["machine"] = callspec.params.get("host") if callspec else None
    return data
