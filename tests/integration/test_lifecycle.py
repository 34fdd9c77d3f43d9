"""`lab up / status / ssh / down / reconcile` with real TCG guests on isolated networks."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.baselines.records import ResetMode
from lab.driver.connection import DomainState, Driver
from lab.driver.filter_bindings import bindings_of, matches
from lab.errors import ConflictError, LabError
from lab.labs import guest, lifecycle
from lab.labs.plan import MANAGEMENT
from lab.labs.records import LabStatus
from lab.placement.admission import promised
from lab.settings import Settings

pytestmark = pytest.mark.integration

PROFILES = Path(__file__).parents[2] / "profiles"
LAB = [sys.executable, "-m", "lab.cli"]


def leftovers(settings: Settings, lab: str) -> list[str]:
    """Everything of `lab` that still exists in libvirt, on disk or in the state store."""
    with Driver.open(settings.libvirt_uri) as driver:
        found = [
            n
            for n in driver.list_domains(settings.prefix) + driver.list_networks(settings.prefix)
            if n.startswith(f"{settings.prefix}{lab}.")
        ]
    if (settings.labs_dir / lab).exists():
        found.append(str(settings.labs_dir / lab))
    if any(r.name == lab for r in lifecycle.list_labs(settings)):
        found.append(f"state record {lab}")
    return found


@pytest.fixture(scope="module")
def two_labs(settings: Settings) -> Iterator[None]:
    """Lab p1 (machines a, b) and lab t1 (machine m1), brought up side by side."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(lifecycle.up, settings, PROFILES / "pair.yaml", "p1"),
            pool.submit(lifecycle.up, settings, PROFILES / "tiny.yaml", "t1"),
        ]
    for job in jobs:
        job.result()
    yield
    for lab in ("p1", "t1"):
        lifecycle.down(settings, lab)


def in_guest(settings: Settings, lab: str, machine: str, command: str) -> guest.CommandResult:
    return guest.run(lifecycle.guest_address(settings, lab, machine), command, timeout=30)


def test_every_machine_runs_and_answers(settings: Settings, two_labs: None) -> None:
    report = lifecycle.status(settings, "p1")
    assert report.lab.status is LabStatus.RUNNING
    assert [(m.name, m.state, m.reachable) for m in report.machines] == [
        ("a", DomainState.RUNNING, True),
        ("b", DomainState.RUNNING, True),
    ]
    assert report.machines[1].addresses[0] == ("net", "10.78.0.11")
    assert report.machines[1].addresses[1][0] == MANAGEMENT
    assert all(m.agent for m in report.machines), "qemu guest agent should answer"


def test_admission_reads_what_each_running_machine_holds(
    settings: Settings, two_labs: None
) -> None:
    """One call for every running domain's resident memory (what admission subtracts from
    each lab's need), the figure of each QEMU process as the kernel counts it."""
    record = lifecycle.status(settings, "t1").lab
    [machine] = record.plan.machines
    with Driver.open(settings.libvirt_uri) as driver:
        resident = driver.resident_bytes()
        owed = promised(driver, [record], overhead_mib=256)
    held = resident[machine.domain]
    # A booted guest's QEMU holds tens of MiB at least, and at most its memory, the
    # translated-code cache (256 MiB) and QEMU's own.
    assert 50 << 20 < held < (machine.memory_mib + 256 + 256) << 20
    need = (machine.memory_mib + 256) << 20
    assert owed == max(0, need - held)
    assert set(resident) >= {m.domain for m in lifecycle.status(settings, "p1").lab.plan.machines}


def test_machine_reaches_its_neighbour_over_the_lab_network(
    settings: Settings, two_labs: None
) -> None:
    result = in_guest(
        settings, "p1", "a", "timeout 5 bash -c '</dev/tcp/10.78.0.11/22' && echo open"
    )
    assert result.exit_code == 0, result.stderr
    assert "open" in result.stdout


def test_machine_of_another_lab_is_unreachable(settings: Settings, two_labs: None) -> None:
    other = lifecycle.status(settings, "t1").machines[0].addresses[0][1]
    result = in_guest(settings, "p1", "a", f"timeout 5 bash -c '</dev/tcp/{other}/22'")
    assert result.exit_code != 0
    # ... while the host itself still reaches that machine.
    assert in_guest(settings, "t1", "m1", "hostname").stdout.strip() == "m1"


@pytest.fixture
def host_port() -> Iterator[int]:
    """A TCP port the host (this namespace) listens on at every address, as `lab serve
    --host 0.0.0.0` would: what a guest must not reach."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def host_address_of(settings: Settings, lab: str) -> str:
    mgmt = lifecycle.get_lab(settings, lab).plan.management.host_address
    assert mgmt is not None
    return str(mgmt.ip)


def connects(settings: Settings, lab: str, machine: str, address: str, port: int) -> bool:
    probe = f"timeout 5 bash -c '</dev/tcp/{address}/{port}' && echo open"
    return "open" in in_guest(settings, lab, machine, probe).stdout


def test_host_ports_are_unreachable_from_guests(
    settings: Settings, two_labs: None, host_port: int
) -> None:
    own = host_address_of(settings, "p1")
    with socket.create_connection((own, host_port), timeout=5):
        pass  # the host itself reaches its listener on that address ...
    assert not connects(settings, "p1", "a", own, host_port)  # ... the lab's guests do not


def test_host_address_of_another_lab_is_unreachable_even_with_a_route(
    settings: Settings, two_labs: None, host_port: int
) -> None:
    own, other = host_address_of(settings, "p1"), host_address_of(settings, "t1")
    other_net = lifecycle.get_lab(settings, "t1").plan.management.cidr
    # A trainee with root routes the other lab's management network via the host.
    added = in_guest(settings, "p1", "b", f"sudo ip route replace {other_net} via {own}")
    assert added.exit_code == 0, added.stderr
    assert not connects(settings, "p1", "b", other, host_port)
    t1 = lifecycle.status(settings, "t1").machines[0].addresses[-1][1]
    assert not connects(settings, "p1", "b", t1, 22)


def filtered_taps(settings: Settings, lab: str) -> dict[str, str]:
    """{domain: tap} of the lab's filtered NICs, each with its filter binding held by
    libvirt for the lab's planned address; the management NICs are unfiltered."""
    taps: dict[str, str] = {}
    with Driver.open(settings.libvirt_uri) as driver:
        for machine in lifecycle.get_lab(settings, lab).plan.machines:
            xml = driver.domain_xml(machine.domain)
            domain = ET.fromstring(xml)
            assert domain.find("devices/interface/filterref") is None
            (binding,) = bindings_of(xml)
            assert binding.mac == machine.nics[0].mac
            assert binding.parameters == {"IP": str(machine.nics[0].address)}
            assert binding.filter == settings.nic_filter
            held = driver.filter_binding(binding.portdev)
            assert held is not None and matches(held, binding)
            taps[machine.domain] = binding.portdev
    return taps


def spoofed_source_connects(settings: Settings) -> bool:
    """Whether machine a reaches b from an address it was not planned (10.78.0.99); its
    planned address (10.78.0.10) reaches b all the same."""
    probe = (
        'python3 -c "import socket,sys; s=socket.socket(); s.settimeout(5); '
        "s.bind((sys.argv[1], 0)); s.connect(('10.78.0.11', 22)); print('open')\" "
    )
    lab_nic = "$(ip -o -4 addr show | awk '/10.78.0.10/ {print $2}')"
    setup = in_guest(settings, "p1", "a", f"sudo ip addr add 10.78.0.99/24 dev {lab_nic}")
    assert setup.exit_code == 0, setup.stderr
    try:
        assert "open" in in_guest(settings, "p1", "a", probe + "10.78.0.10").stdout
        return "open" in in_guest(settings, "p1", "a", probe + "10.78.0.99").stdout
    finally:
        in_guest(settings, "p1", "a", f"sudo ip addr del 10.78.0.99/24 dev {lab_nic}")


def spoofed_source_is_dropped(settings: Settings) -> None:
    """Machine a may send only from its planned address (10.78.0.10)."""
    assert not spoofed_source_connects(settings)


def spoofed_mac_is_dropped(settings: Settings) -> None:
    """Machine a may send only from its own MAC on its lab NIC."""
    nic = in_guest(settings, "p1", "a", "ip -o -4 addr show | awk '/10.78.0.10/ {print $2}'")
    name = nic.stdout.strip()
    assert name, nic.stderr
    original = in_guest(settings, "p1", "a", f"cat /sys/class/net/{name}/address").stdout.strip()
    # Change the MAC, flush b's neighbour entry, probe, and put the MAC back: one command.
    spoofed = in_guest(
        settings,
        "p1",
        "a",
        f"sudo sh -c 'ip link set dev {name} address 52:54:00:de:ad:01; ip neigh flush dev {name}'"
        " && "
        f"(timeout 5 bash -c '</dev/tcp/10.78.0.11/22' && echo open); "
        f"sudo sh -c 'ip link set dev {name} address {original}; ip neigh flush dev {name}'",
    )
    assert "open" not in spoofed.stdout
    assert connects(settings, "p1", "a", "10.78.0.11", 22)  # its own MAC works again


def test_spoofed_source_address_is_dropped(settings: Settings, two_labs: None) -> None:
    """The NIC filter, a binding on each lab NIC's fixed tap."""
    filtered_taps(settings, "p1")
    spoofed_source_is_dropped(settings)


def test_spoofed_mac_address_is_dropped(settings: Settings, two_labs: None) -> None:
    spoofed_mac_is_dropped(settings)


def test_the_filters_hold_through_a_memory_reset(settings: Settings, two_labs: None) -> None:
    """A reset destroys and restores every machine without touching a filter rule: the
    same taps come back under the same bindings, and spoofing is still dropped."""
    before = filtered_taps(settings, "p1")
    resets.baseline(settings, "p1")
    done = resets.reset(settings, "p1")
    assert (done.mode, done.ok) == (ResetMode.MEMORY, True), done.note
    assert filtered_taps(settings, "p1") == before
    spoofed_source_is_dropped(settings)
    spoofed_mac_is_dropped(settings)


def ebtables(*args: str) -> None:
    subprocess.run(["ebtables", "-t", "nat", *args], check=True, capture_output=True)


def lab_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAB, *args],
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_filter_rules_taken_away_are_found_by_host_check_and_made_again_by_refilter(
    settings: Settings, lab_env: dict[str, str], two_labs: None
) -> None:
    """The NIC filters' rules live in the host's netfilter tables, where a flush (`nft
    flush ruleset`, as Debian's nftables.service runs) takes them away while libvirt still
    holds every binding. Here p1's rules are taken away (only p1's: the tests beside keep
    theirs); `lab host check` names p1's machines, whose spoofing then gets through, and
    `lab host refilter` makes the rules again without stopping a machine."""
    taps = filtered_taps(settings, "p1")
    for tap in taps.values():
        ebtables("-D", "PREROUTING", "-i", tap, "-j", f"libvirt-I-{tap}")
        ebtables("-F", f"libvirt-I-{tap}")
    # And libvirt's rules that keep p1's network from being routed, put back by hand
    # below: the way back the check names, a restart of libvirtd, would reach the labs of
    # the tests beside.
    (net,) = lifecycle.get_lab(settings, "p1").plan.networks
    rules = [("LIBVIRT_FWO", "-i"), ("LIBVIRT_FWI", "-o")]
    reject = ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"]
    for chain, way in rules:
        subprocess.run(["iptables", "-D", chain, way, net.bridge, *reject], check=True)
    try:
        found = lab_cli(lab_env, "host", "check")
        assert found.returncode == 1, found.stdout + found.stderr
        assert "rules gone: p1/a, p1/b" in found.stdout, found.stdout
        assert "lab host refilter" in found.stderr, found.stderr
        assert "rules gone: p1/net" in found.stdout, found.stdout
        assert "systemctl restart libvirtd" in found.stderr, found.stderr
        assert spoofed_source_connects(settings)  # what the check is for
    finally:
        for chain, way in rules:
            subprocess.run(["iptables", "-A", chain, way, net.bridge, *reject], check=True)
        mended = lab_cli(lab_env, "host", "refilter")
    assert mended.returncode == 0, mended.stdout + mended.stderr
    checked = lab_cli(lab_env, "host", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"NIC filters of lab machines\s+[1-9]\d* filtered\s+ok", checked.stdout)
    assert filtered_taps(settings, "p1") == taps  # the same taps, bound as planned again
    with Driver.open(settings.libvirt_uri) as driver:  # no machine was stopped for it
        assert {driver.domain_state(d) for d in taps} == {DomainState.RUNNING}
    spoofed_source_is_dropped(settings)
    spoofed_mac_is_dropped(settings)


def test_lab_ssh_runs_one_command_and_passes_its_exit_code(
    lab_env: dict[str, str], two_labs: None
) -> None:
    ok = subprocess.run(
        [*LAB, "ssh", "p1", "b", "--", "hostname"],
        env=lab_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (ok.returncode, ok.stdout.strip()) == (0, "b"), ok.stderr
    failed = subprocess.run(
        [*LAB, "ssh", "p1", "b", "--", "false"],
        env=lab_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 1


def test_second_up_with_the_same_name_is_refused(settings: Settings, two_labs: None) -> None:
    with pytest.raises(ConflictError):
        lifecycle.up(settings, PROFILES / "tiny.yaml", "t1")
    assert lifecycle.get_lab(settings, "t1").status is LabStatus.RUNNING


def test_down_leaves_nothing_and_is_idempotent(settings: Settings, two_labs: None) -> None:
    # The last test of the shared labs: t1 goes (the fixture's own `down` then finds nothing).
    assert leftovers(settings, "t1")
    taps = filtered_taps(settings, "t1").values()
    assert lifecycle.down(settings, "t1")
    assert leftovers(settings, "t1") == []
    with Driver.open(settings.libvirt_uri) as driver:
        assert [tap for tap in taps if driver.filter_binding(tap) is not None] == []
    assert lifecycle.down(settings, "t1") == []


def test_guest_that_never_answers_rolls_back_with_its_console(settings: Settings) -> None:
    impatient = settings.model_copy(update={"boot_timeout": 3.0})
    with pytest.raises(LabError) as info:
        lifecycle.up(impatient, PROFILES / "pair.yaml", "f1")
    assert "did not come up" in info.value.message
    assert "console" in info.value.message
    assert leftovers(settings, "f1") == []


def test_missing_image_fails_before_creating_anything(settings: Settings, tmp_path: Path) -> None:
    profile = tmp_path / "noimage.yaml"
    profile.write_text((PROFILES / "tiny.yaml").read_text().replace("debian-12", "no-such-image"))
    with pytest.raises(LabError) as info:
        lifecycle.up(settings, profile, "n1")
    assert "lab image build" in info.value.hint or "lab image list" in info.value.hint
    assert leftovers(settings, "n1") == []


def test_reconcile_removes_a_lab_whose_up_was_killed(
    settings: Settings, lab_env: dict[str, str]
) -> None:
    proc = subprocess.Popen(
        [*LAB, "up", str(PROFILES / "tiny.yaml"), "--name", "k1"],
        env=lab_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if "started" in line or time.monotonic() > deadline:
            break
    proc.kill()  # SIGKILL: no rollback runs
    proc.wait()
    assert leftovers(settings, "k1"), "the killed up should have left a half-made lab"
    report = lifecycle.reconcile(settings)
    assert any("k1" in line for line in report.removed)
    assert leftovers(settings, "k1") == []
