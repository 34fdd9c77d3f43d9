"""A lab server beside the control node: its own namespace and libvirtd, reached only
through libvirt's remote protocol (TLS, with the run's certificates) over a link between
the two namespaces (`LABNS_SERVERS` in scripts/labns). What `lab host add` makes there is
on the server's side; a server that cannot be reached is listed with the reason and
nothing of it is forgotten."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.driver.connection import Driver
from lab.host.model import POOL
from tests.integration.test_host_check import lab_cli

pytestmark = pytest.mark.integration

SERVERS = dict(s.split("=", 1) for s in os.environ.get("LAB_TEST_SERVERS", "").split())
STATE = Path("/run/hromada-labns")


@pytest.fixture
def server() -> Iterator[str]:
    """The first lab server's URI; its pool is forgotten afterwards (files stay there)."""
    if "s1" not in SERVERS:
        pytest.fail("no lab server beside this run: run via `make test` (LABNS_SERVERS=1)")
    yield SERVERS["s1"]
    with Driver.open(SERVERS["s1"]) as driver:
        driver.forget_pool(POOL)


def _link(state: str) -> None:
    subprocess.run(["ip", "link", "set", "srv1", state], check=True)


def test_a_server_is_added_and_watched_through_its_remote_uri(
    server: str, lab_env: dict[str, str]
) -> None:
    added = lab_cli(lab_env, "host", "add", "s1", server)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "host s1 added" in added.stdout
    # The pool was made by the server's libvirtd in the server's own /var/lib/libvirt (a
    # private directory of its namespace), not on the control node's side.
    on_server = STATE / f"{os.environ['LAB_NETNS']}-s1" / "lib" / "hromada-lab"
    assert on_server.is_dir()
    assert not Path("/var/lib/libvirt/hromada-lab").exists()

    listed = json.loads(lab_cli(lab_env, "host", "list", "--json").stdout)
    s1 = next(h for h in listed if h["name"] == "s1")
    assert s1["reachable"] and s1["uri"] == server and not s1["problem"]
    assert s1["cpus"] >= 1 and 0 < s1["memory_available_bytes"] <= s1["memory_total_bytes"]
    assert s1["disk_path"] == "/var/lib/libvirt/hromada-lab" and s1["disk_free_bytes"] > 0

    _link("down")  # the server drops off the network
    try:
        listed = lab_cli(lab_env, "host", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        s1 = next(h for h in json.loads(listed.stdout) if h["name"] == "s1")
        assert not s1["reachable"] and s1["problem"] and s1["hint"]
        assert s1["cpus"] is None
        assert next(h for h in json.loads(listed.stdout) if h["name"] == "local")["reachable"]
    finally:
        _link("up")
    s1 = next(
        h
        for h in json.loads(lab_cli(lab_env, "host", "list", "--json").stdout)
        if h["name"] == "s1"
    )
    assert s1["reachable"]  # known all along, found again as it was

    removed = lab_cli(lab_env, "host", "remove", "s1")
    assert removed.returncode == 0, removed.stderr
    assert on_server.is_dir()  # removing a host touches nothing on it
