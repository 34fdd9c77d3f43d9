"""A lab server beside the control node: its own namespace and libvirtd, reached only
through libvirt's remote protocol (TLS, with the run's certificates) over a link between
the two namespaces (`LABNS_SERVERS` in scripts/labns). What `lab host add` makes there is
on the server's side; a server that cannot be reached is listed with the reason and
nothing of it is forgotten."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.driver.connection import Driver
from lab.host.model import POOL
from tests.homes import TEST_ROOT
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


@pytest.fixture
def own_images(tmp_path: Path, lab_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A LAB_HOME with an image store of its own holding one small imported disk."""
    home = TEST_ROOT / f"servers-{os.getpid()}"
    home.mkdir(mode=0o755)
    disk = tmp_path / "small.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    env = {**lab_env, "LAB_HOME": str(home)}
    try:
        made = lab_cli(env, "image", "import", str(disk), "--name", "small")
        assert made.returncode == 0, made.stdout + made.stderr
        yield env
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_images_are_copied_to_a_server_once_and_checked(
    server: str, own_images: dict[str, str]
) -> None:
    env = own_images
    assert lab_cli(env, "host", "add", "s1", server).returncode == 0
    store = Path(env["LAB_HOME"]) / "images"
    digest = json.loads((store / "names" / "small.json").read_text())["digest"]
    local = store / "blobs" / digest / "disk.qcow2"
    volume = f"{digest}.disk.qcow2"

    first = lab_cli(env, "host", "prepare", "s1", "small")
    assert first.returncode == 0, first.stdout + first.stderr
    assert volume in first.stdout and "copied in" in first.stdout
    pool = STATE / f"{os.environ['LAB_NETNS']}-s1" / "lib" / "hromada-lab"
    assert (pool / volume).read_bytes() == local.read_bytes()  # on the server's side
    sha = hashlib.sha256(local.read_bytes()).hexdigest()
    assert (pool / f"{volume}.sha256").read_text() == sha

    again = lab_cli(env, "host", "prepare", "s1", "small")
    assert again.returncode == 0 and "there already" in again.stdout  # nothing sent

    (pool / f"{volume}.sha256").unlink()  # as if the copy had been cut short
    redo = lab_cli(env, "host", "prepare", "s1", "small")
    assert redo.returncode == 0, redo.stdout + redo.stderr
    assert "was cut short: copying it again" in redo.stdout + redo.stderr  # the progress
    assert "copied in" in redo.stdout
    assert (pool / f"{volume}.sha256").read_text() == sha

    missing = lab_cli(env, "host", "prepare", "s1", "nonesuch")
    assert missing.returncode == 1 and "no image named 'nonesuch'" in missing.stderr
    local_host = lab_cli(env, "host", "prepare", "local", "small")
    assert local_host.returncode == 1 and "nothing to copy" in local_host.stderr
    assert lab_cli(env, "host", "remove", "s1").returncode == 0
