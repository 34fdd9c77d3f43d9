"""Lab servers beside the control node: each its own namespace and libvirtd, reached only
through libvirt's remote protocol (TLS, with the run's certificates) and its sshd over a
link between the namespaces (`LABNS_SERVERS` in scripts/labns). What `lab host add`
makes there is on the server's side; a server that cannot be reached is listed with the
reason and nothing of it is forgotten; a lab brought up there lives there whole, its
guests reached through the server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest

from lab.baselines import resets
from lab.baselines.records import ResetMode
from lab.classes import classes
from lab.driver.connection import DomainState, Driver
from lab.driver.filter_bindings import bindings_of, matches
from lab.errors import LabError
from lab.host import hosts
from lab.host.images import ensure_images
from lab.host.model import LOCAL, POOL, SshJump
from lab.host.netfilter import filtered_taps
from lab.images import ImageStore
from lab.labs import consoles, guest, lifecycle
from lab.placement.place import CapacityError
from lab.settings import Accel, Settings
from lab.store.state import StateStore
from lab.templates import clones, templates
from lab.templates.on_server import ensure_template, layer_volume
from lab.templates.store import TemplateStore
from tests.appliances import vendor
from tests.homes import TEST_ROOT
from tests.integration.conftest import PROFILES
from tests.integration.test_appliances import CACHE as APPLIANCES
from tests.integration.test_appliances import change_is_undone_by_a_memory_reset
from tests.integration.test_host_check import lab_cli

pytestmark = pytest.mark.integration

SERVERS = dict(s.split("=", 1) for s in os.environ.get("LAB_TEST_SERVERS", "").split())
# "sI=USER@HOST:PORT,KEY,KNOWN_HOSTS": the server's sshd, for reaching its guests.
SERVER_SSH = dict(s.split("=", 1) for s in os.environ.get("LAB_TEST_SERVER_SSH", "").split())
STATE = Path("/run/hromada-labns")
PLAYBOOK_TEMPLATES = Path(__file__).parents[2] / "playbooks" / "host" / "lab_host" / "templates"
# The vendor appliance (IMAGE) with a further disk (DATA), beside a managed machine.
APPLIANCE_PROFILE = Path(__file__).parents[1] / "appliances" / "with_data_disk.yaml.in"


@pytest.fixture
def server() -> Iterator[str]:
    """The first lab server's URI; its pool is forgotten afterwards (files stay there)."""
    if "s1" not in SERVERS:
        pytest.fail("no lab server beside this run: run via `make test` (LABNS_SERVERS=2)")
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
    assert s1["labs"] == [] and not s1["draining"]
    # The room admission counts there: its libvirtd's free memory less the reserve.
    assert s1["memory_reserve_bytes"] == 1 << 30 and s1["memory_promised_bytes"] == 0
    assert 0 < s1["memory_free_for_labs_bytes"] < s1["memory_total_bytes"]
    again = lab_cli(lab_env, "host", "add", "s2", server)
    assert again.returncode == 1 and "is known already" in again.stderr
    here = lab_cli(lab_env, "host", "add", "s2", "qemu+unix:///system")
    assert here.returncode == 1 and "it is host local already" in here.stderr
    drained = lab_cli(lab_env, "host", "drain", "s1")
    assert drained.returncode == 0 and "draining" in drained.stdout
    assert re.search(r"s1\s+draining", lab_cli(lab_env, "host", "list").stdout)
    assert lab_cli(lab_env, "host", "drain", "s1", "--undo").returncode == 0

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


def test_a_prune_removes_the_copies_of_builds_no_longer_here_from_servers(
    server: str, own_images: dict[str, str], tmp_path: Path
) -> None:
    """`lab image prune` removes a server's copies of builds the store no longer holds,
    keeps the copies of builds it holds and a copy that a volume on the server sits on."""
    env = own_images
    assert lab_cli(env, "host", "add", "s1", server).returncode == 0
    names = Path(env["LAB_HOME"]) / "images" / "names"
    for name, size in (("gone", "48M"), ("held", "40M")):  # other bytes: other builds
        disk = tmp_path / f"{name}.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), size], check=True)
        made = lab_cli(env, "image", "import", str(disk), "--name", name)
        assert made.returncode == 0, made.stdout + made.stderr
    digest = {p.stem: json.loads(p.read_text())["digest"] for p in names.glob("*.json")}
    copied = lab_cli(env, "host", "prepare", "s1", "small", "gone", "held")
    assert copied.returncode == 0, copied.stdout + copied.stderr
    pool = _server_pool()
    with Driver.open(server) as driver:  # a disk made by hand on the server, on held's copy
        held = driver.volume_path(POOL, f"{digest['held']}.disk.qcow2")
        assert held is not None
        driver.create_overlay(POOL, "by-hand.qcow2", 64 << 20, held)
    try:
        for name in ("gone", "held"):
            assert lab_cli(env, "image", "rm", name).returncode == 0
        dry = lab_cli(env, "image", "prune", "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert f"would remove {digest['gone']}.disk.qcow2 on host s1" in dry.stdout
        assert (pool / f"{digest['gone']}.disk.qcow2").exists()  # a dry run deletes nothing

        done = lab_cli(env, "image", "prune")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"removed {digest['gone']}.disk.qcow2.sha256 on host s1" in done.stdout
        assert "host s1: 2 copied file(s) of builds no longer here" in done.stdout
        assert f"kept {digest['held']}.disk.qcow2 on host s1: a volume" in done.stdout
        assert not (pool / f"{digest['gone']}.disk.qcow2").exists()
        assert not (pool / f"{digest['gone']}.disk.qcow2.sha256").exists()
        assert (pool / f"{digest['held']}.disk.qcow2").exists()
        assert (pool / f"{digest['small']}.disk.qcow2.sha256").exists()  # still here: kept
    finally:
        with Driver.open(server) as driver:
            driver.delete_volume(POOL, "by-hand.qcow2")
        assert lab_cli(env, "host", "remove", "s1").returncode == 0


def _server_ebtables(*args: str) -> str:
    """`ebtables -t nat ARGS` in lab server s1's network namespace: what it printed."""
    argv = ["ip", "netns", "exec", f"{os.environ['LAB_NETNS']}-s1", "ebtables", "-t", "nat"]
    return subprocess.run([*argv, *args], check=True, capture_output=True, text=True).stdout


def _server_pool() -> Path:
    return STATE / f"{os.environ['LAB_NETNS']}-s1" / "lib" / "hromada-lab"


def test_a_lab_on_a_server_lives_there_whole_and_its_guests_are_reached_through_it(
    server: str, settings: Settings, lab_env: dict[str, str], tmp_path: Path
) -> None:
    who, key, known_hosts = SERVER_SSH["s1"].split(",")
    # The server's KVM is this machine's, in PVM mode: its guests run under TCG.
    hosts.add_host(settings, "s1", server, who, Path(key), Path(known_hosts), Accel.TCG)
    # The smallest lab, its machine with a display (a console trainees open in the browser).
    profile = tmp_path / "tiny-shown.yaml"
    text = (PROFILES / "tiny.yaml").read_text()
    profile.write_text(text.replace("    vcpus: 1\n", "    vcpus: 1\n    graphics: true\n"))
    try:
        record = lifecycle.up(settings, profile, "far", host="s1")
        try:
            _check_far(settings, lab_env, server, record.plan.machines[0].domain)
        finally:
            removed = lifecycle.down(settings, "far")
        domain = record.plan.machines[0].domain
        assert f"volume {domain}.qcow2" in removed and f"volume {domain}.seed.iso" in removed
        assert not [p.name for p in _server_pool().iterdir() if p.name.startswith(domain)]
        with Driver.open(server) as driver:
            assert not driver.domain_exists(domain)
        # The image stays on the server for the next lab: copied once per host.
        assert not any(c.copied for c in ensure_images(settings, "s1", ["debian-12"]))
    finally:
        hosts.remove(settings, "s1")


def _check_far(settings: Settings, env: dict[str, str], server: str, domain: str) -> None:
    record = lifecycle.get_lab(settings, "far")
    assert record.host == "s1" and record.status == "running"
    with Driver.open(server) as driver:  # on the server, and only there
        assert driver.domain_state(domain) is DomainState.RUNNING
    with Driver.open(settings.libvirt_uri) as driver:
        assert not driver.domain_exists(domain)
    pool = _server_pool()
    assert (pool / f"{domain}.qcow2").is_file() and (pool / f"{domain}.seed.iso").is_file()
    assert not (settings.labs_dir / "far" / "disks").exists()  # only keys stay here

    # Its management network is a bridge on the server: from here only through it.
    address = lifecycle.guest_address(settings, "far", "m1")
    assert address.jump is not None and address.jump.host == "10.254.1.2"
    with pytest.raises(OSError):
        socket.create_connection((address.host, 22), timeout=3).close()
    assert guest.run(address, "hostname").stdout.strip() == "m1"
    assert lifecycle.status(settings, "far").machines[0].reachable
    # Its consoles: the serial one over libvirt's stream, the display through the server.
    with consoles.open_serial(settings, "far", "m1") as serial:
        serial.write(b"\n")
        assert serial.read(4096)  # the login prompt, again
    display = consoles.open_display(settings, "far", "m1")
    try:
        assert display.read(12).startswith(b"RFB 003.")
    finally:
        display.close()
    # The checks and `lab ssh` run over OpenSSH with the lab's ssh_config (ProxyJump
    # through s1).
    tested = lab_cli(env, "test", "far")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    shell = lab_cli(env, "ssh", "far", "m1", "--", "hostname")
    assert (shell.returncode, shell.stdout.strip()) == (0, "m1"), shell.stderr
    # Its NIC filter's rules taken away on the server (as a flush of its tables would),
    # and made anew there from here through its libvirt, the machine running throughout.
    with Driver.open(server) as driver:
        (binding,) = bindings_of(driver.domain_xml(domain))
    tap = binding.portdev
    _server_ebtables("-D", "PREROUTING", "-i", tap, "-j", f"libvirt-I-{tap}")
    _server_ebtables("-F", f"libvirt-I-{tap}")
    assert tap not in filtered_taps(_server_ebtables("-L"))
    mended = lab_cli(env, "host", "refilter", "s1")
    assert mended.returncode == 0, mended.stdout + mended.stderr
    assert "filtered anew: 1 running machine(s)" in mended.stdout
    assert tap in filtered_taps(_server_ebtables("-L"))
    with Driver.open(server) as driver:
        held = driver.filter_binding(tap)
        assert held is not None and matches(held, binding)
        assert driver.domain_state(domain) is DomainState.RUNNING

    # A baseline and a memory reset there, through libvirt alone: the frozen disk and the
    # memory state are volumes the server made.
    base = resets.baseline(settings, "far")
    assert base.memory == ("m1",)
    frozen, saved = (
        pool / f"{domain}.{base.generation}.qcow2",
        pool / f"{domain}.{base.generation}.sav",
    )
    assert frozen.is_file() and saved.is_file()
    assert guest.run(address, "touch was-here && sync").exit_code == 0
    done = resets.reset(settings, "far")
    assert done.ok and done.mode is ResetMode.MEMORY, done
    assert guest.run(address, "test -e was-here").exit_code == 1  # the disk went back too
    again = resets.baseline(settings, "far")  # the old generation goes once unused
    assert not frozen.exists() and not saved.exists()
    assert (pool / f"{domain}.{again.generation}.sav").is_file()
    # A template of it is brought to this machine (only what differs from the image),
    # and a lab cloned from it here is its own.
    made = templates.create(settings, "far", "far-template")
    try:
        assert made.plan.host == "s1" and made.memory == ("m1",)
        store = TemplateStore(settings)
        assert store.size_of({made.machines[0].layers[0].digest}) < 400 * 2**20
        near = clones.clone(settings, "far-template", "near")
        try:
            assert near.host == "local" and near.verification and near.verification.passed
            mine = lifecycle.guest_address(settings, "near", "m1")
            assert mine.jump is None and mine.host != address.host
            assert guest.run(mine, "hostname").stdout.strip() == "m1"
        finally:
            lifecycle.down(settings, "near")
    finally:
        templates.delete(settings, "far-template")

    # The server drops off the network: its lab is reported, never removed; once the
    # server is back, reconcile finds it as it was.
    _link("down")
    try:
        report = lifecycle.reconcile(settings)
        assert "far" in report.unreachable and not report.removed
        assert lifecycle.get_lab(settings, "far").host == "s1"
    finally:
        _link("up")
    report = lifecycle.reconcile(settings)
    assert "far" in report.kept and not report.removed, report
    assert guest.run(address, "true").exit_code == 0


def _restart_server_libvirtd(pidfile: Path) -> None:
    """Start the killed libvirtd of lab server s1 again, in the server's namespaces (through
    its sshd), as scripts/labns started it, and wait until it answers."""
    who, key, known_hosts = SERVER_SSH["s1"].split(",")
    user_host, port = who.rsplit(":", 1)
    out = pidfile.parent / "libvirtd.stdout"
    command = f"setsid tini -s -- libvirtd --listen -p {pidfile} </dev/null >>{out} 2>&1 &"
    ssh = ["ssh", "-i", key, "-o", f"UserKnownHostsFile={known_hosts}", "-o", "BatchMode=yes"]
    subprocess.run([*ssh, "-p", port, user_host, command], check=True, timeout=30)
    for _ in range(100):
        try:
            with Driver.open(SERVERS["s1"]):
                return
        except LabError:
            time.sleep(0.2)
    pytest.fail("the lab server's libvirtd did not come back")


def test_a_class_spreads_over_two_hosts_and_outlives_one_of_them(
    server: str, settings: Settings
) -> None:
    """Two lab servers, each reached only through its remote URI; this machine's own host
    drained, so the class goes on the servers alone."""
    if "s2" not in SERVERS:
        pytest.fail("no second lab server beside this run: run via `make test` (LABNS_SERVERS=2)")
    for name in ("s1", "s2"):
        who, key, known_hosts = SERVER_SSH[name].split(",")
        uri = SERVERS[name]
        hosts.add_host(settings, name, uri, who, Path(key), Path(known_hosts), Accel.TCG)
    hosts.drain(settings, LOCAL)
    # The hosts are one machine here: one boot at a time on each keeps it to its cores.
    paced = settings.model_copy(update={"boot_parallel": 1})
    try:
        record, outcomes = classes.create(paced, PROFILES / "tiny.yaml", "wide", 4)
        try:
            assert all(o.ok for o in outcomes), [(o.seat, o.error) for o in outcomes if not o.ok]
            placed = {seat: lifecycle.get_lab(paced, seat).host for seat in record.seats}
            assert sorted(placed.values()) == ["s1", "s1", "s2", "s2"], placed
            _class_on_two_hosts(paced, record.seats, placed)
        finally:
            deleted = classes.delete(paced, "wide")
        assert all(o.ok for o in deleted), deleted
        for name in ("s1", "s2"):
            with Driver.open(SERVERS[name]) as driver:
                assert not driver.list_domains(settings.prefix)
    finally:
        hosts.drain(settings, LOCAL, draining=False)
        for name in ("s1", "s2"):
            hosts.remove(settings, name)
        with Driver.open(SERVERS["s2"]) as driver:
            driver.forget_pool(POOL)


def _class_on_two_hosts(settings: Settings, seats: tuple[str, ...], placed: dict[str, str]) -> None:
    # What does not fit on both hosts together is refused with each host's room, and
    # nothing of it is made (the sample profile's seats hold several GiB each).
    with pytest.raises(CapacityError) as refused:
        classes.create(settings, PROFILES / "rural-hromada.yaml", "huge", 50)
    message = refused.value.message
    assert "class 'huge' of 50 seats does not fit" in message
    assert "50 × " in message and "free: s1 " in message and ", s2 " in message
    assert "huge" not in [c.name for c in StateStore.open(settings).list_classes()]
    assert not any(lab.name.startswith("huge") for lab in lifecycle.list_labs(settings))

    assert all(o.ok for o in classes.baseline(settings, "wide"))
    reset = classes.reset(settings, "wide")
    assert all(o.ok and o.reset and o.reset.mode is ResetMode.MEMORY for o in reset), reset

    # One server's libvirtd dies: its seats are reported, never removed; the seats on the
    # other are untouched and reset as ever.
    far = sorted(s for s, h in placed.items() if h == "s1")
    near = sorted(s for s, h in placed.items() if h == "s2")
    pids = dict(p.split("=", 1) for p in os.environ["LAB_TEST_SERVER_PIDS"].split())
    pidfile = Path(pids["s1"])
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    try:
        report = lifecycle.reconcile(settings)
        assert sorted(report.unreachable) == far and set(near) <= set(report.kept), report
        assert not report.removed
        for seat in near:
            assert resets.reset(settings, seat).ok
        with pytest.raises(LabError, match="cannot connect"):
            resets.reset(settings, far[0])
    finally:
        _restart_server_libvirtd(pidfile)
    # Back: reconcile finds the seats as they were (their guests ran on), and they reset.
    report = lifecycle.reconcile(settings)
    assert set(far) <= set(report.kept) and not report.unreachable, report
    for seat in far:
        assert lifecycle.status(settings, seat).machines[0].reachable
        assert resets.reset(settings, seat).ok
    _template_over_two_hosts(settings, near[0])


def _template_over_two_hosts(settings: Settings, seat: str) -> None:
    # A template of a seat on s2 (its files brought here); a class cloned from it spreads
    # over both servers. On each the template's files are copied once, and a clone is a
    # lab there whole.
    templates.create(settings, seat, "wide-tpl")
    try:
        made, outcomes = classes.create(settings, None, "copies", 2, template="wide-tpl")
        try:
            assert all(o.ok for o in outcomes), [(o.seat, o.error) for o in outcomes if not o.ok]
            where = {s: lifecycle.get_lab(settings, s).host for s in made.seats}
            assert sorted(where.values()) == ["s1", "s2"], where
            far = next(s for s, h in where.items() if h == "s1")
            record = lifecycle.get_lab(settings, far)
            assert record.template == "wide-tpl" and record.verification is not None
            domain = record.plan.machines[0].domain
            with Driver.open(SERVERS["s1"]) as driver:
                assert driver.domain_state(domain) is DomainState.RUNNING
            found = TemplateStore(settings).get("wide-tpl")
            (layer,) = found.machines[0].layers
            pool = _server_pool()
            assert (pool / layer_volume(layer.digest)).is_file()
            assert (pool / f"{domain}.template-wide-tpl.sav").is_file()
            again = ensure_template(settings, "s1", found)
            assert again and not any(c.copied for c in again)  # once per host
            # Its own identity (the pinned host key of its own address answers), and a
            # reset back to the template's state keeps it.
            address = lifecycle.guest_address(settings, far, "m1")
            assert guest.run(address, "touch was-here && sync").exit_code == 0
            done = resets.reset(settings, far)
            assert done.ok and done.mode is ResetMode.MEMORY, done
            assert guest.run(address, "test -e was-here").exit_code == 1
        finally:
            deleted = classes.delete(settings, "copies")
        assert all(o.ok for o in deleted), deleted
        assert not [p.name for p in _server_pool().iterdir() if p.name.startswith(domain)]
    finally:
        templates.delete(settings, "wide-tpl")
    # Its copies on the server go with it.
    assert not (_server_pool() / layer_volume(layer.digest)).exists()


def test_a_control_nodes_key_reaches_libvirt_and_the_guests_and_nothing_else(
    tmp_path: Path,
) -> None:
    """A control node's key let in as the host playbook lets it in on a lab server
    (lab_host_controller_keys, rendered from the playbook's own template): libvirt over
    SSH through its forced helper, TCP forwards for the jump, and no command of its own."""
    who, _, known_hosts = SERVER_SSH["s1"].split(",")
    user_host, port = who.rsplit(":", 1)
    key = tmp_path / "control_node"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    template = PLAYBOOK_TEMPLATES / "controller_keys.j2"
    line = jinja2.Template(template.read_text(), keep_trailing_newline=True).render(
        lab_host_controller_keys=[key.with_suffix(".pub").read_text()]
    )
    authorized = Path(known_hosts).parent / "authorized_keys"
    before = authorized.read_text()
    authorized.write_text(before + line)
    ssh = [
        "ssh", "-i", str(key), "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-T", "-p", port, user_host,
    ]  # fmt: skip
    try:
        # libvirt, as qemu+ssh runs it: whatever command it asks for, the helper answers.
        helper = tmp_path / "through-ssh"
        helper.write_text(f"#!/bin/sh\nexec {' '.join(ssh)} 'any command at all'\n")
        helper.chmod(0o700)
        with Driver.open(f"qemu+ext:///system?command={helper}") as driver:
            assert driver.node_capacity().cpus >= 1
        # The jump: a TCP forward from the server (to its own sshd here).
        jump = SshJump(user="root", host=user_host.split("@")[1], key=key,
                       known_hosts=Path(known_hosts))  # fmt: skip
        client = guest.connect_jump(jump)
        try:
            channel = guest.tunnel(client, jump, jump.host, 22, 10.0)
            assert channel.recv(4).startswith(b"SSH-")
        finally:
            client.close()
        # A command of its own does not run: the forced helper does instead.
        marker = tmp_path / "ran"
        subprocess.run(
            [*ssh, f"touch {marker}"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
        )
        assert not marker.exists()
    finally:
        authorized.write_text(before)


def test_an_appliance_runs_on_a_server_as_it_is(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    """A community's own machine (UEFI, its own disks) on a server: its variables and
    further disk are volumes there, kept in its baseline and put back by a reset."""
    who, key, known_hosts = SERVER_SSH["s1"].split(",")
    hosts.add_host(settings, "s1", server, who, Path(key), Path(known_hosts), Accel.TCG)
    store = ImageStore(settings)
    image, data = f"docflow-s{os.getpid()}", f"data-s{os.getpid()}"
    disk = tmp_path / "data.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    store.import_file(vendor.ensure(APPLIANCES).vmdk, image, progress=print)
    store.import_file(disk, data, progress=print)
    profile = tmp_path / "appliance.yaml"
    text = APPLIANCE_PROFILE.read_text()
    profile.write_text(text.replace("IMAGE", image).replace("DATA", data))
    try:
        record = lifecycle.up(settings, profile, "apfar", host="s1")
        domain = record.plan.machine("docflow").domain
        try:
            assert record.verification is not None and record.verification.passed
            pool = _server_pool()
            for own in ("qcow2", "disk2.qcow2", "nvram.fd"):
                assert (pool / f"{domain}.{own}").is_file(), own
            base = resets.baseline(settings, "apfar")
            assert "docflow" in base.memory
            for kept in ("qcow2", "disk2.qcow2", "nvram.fd", "sav"):
                assert (pool / f"{domain}.{base.generation}.{kept}").is_file(), kept
            change_is_undone_by_a_memory_reset(settings, "apfar")
        finally:
            lifecycle.down(settings, "apfar")
        assert not [p.name for p in _server_pool().iterdir() if p.name.startswith(domain)]
    finally:
        hosts.remove(settings, "s1")
        store.remove(image, used_by=[])
        store.remove(data, used_by=[])
