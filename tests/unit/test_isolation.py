"""`lab host check`'s isolation rows and `lab host refilter`, over a fake libvirt: the
cases a real host does not give on demand (a binding left by a machine that vanished in a
crash, a running machine libvirt holds no binding for, a lab busy with another operation).
Rules taken away for real, found and made again: tests/integration/test_lifecycle.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.driver import domain_xml
from lab.driver.connection import DomainState, Driver, Versions
from lab.driver.filter_bindings import tap_name
from lab.host import isolation, targets
from lab.labs.locks import lab_lock
from lab.labs.naming import bridge_name
from lab.settings import Settings
from tests.unit.test_filter_bindings import LAB_MAC, spec
from tests.unit.test_netfilter import GUEST_FIREWALL

PREFIX = "hlx-"


class FakeDriver:
    """Domains (name -> state) each with one filtered NIC, and the bindings held."""

    def __init__(
        self, states: dict[str, DomainState], held: dict[str, str], networks: tuple[str, ...] = ()
    ) -> None:
        self.states = states
        self.held = dict(held)  # tap -> owner
        self.networks = networks
        self.made: list[str] = []

    def versions(self) -> Versions:
        return Versions(libvirt="9.0.0", hypervisor_type="QEMU", hypervisor="7.2.0")

    def list_networks(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.networks if n.startswith(prefix))

    def network_active(self, name: str) -> bool:
        return True

    def __enter__(self) -> FakeDriver:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def list_domains(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.states if n.startswith(prefix))

    def domain_xml(self, name: str, inactive: bool = False) -> str:
        return domain_xml(spec(name=name))

    def domain_state(self, name: str) -> DomainState:
        return self.states[name]

    def filter_bindings(self) -> list[tuple[str, str]]:
        return sorted(self.held.items())

    def remove_filter_binding(self, tap: str) -> None:
        self.held.pop(tap, None)

    def refilter_domain(self, name: str) -> int:
        tap = tap_name(name, LAB_MAC)
        self.held.pop(tap, None)
        if self.states[name] is DomainState.SHUTOFF:
            return 0
        self.held[tap] = name
        self.made.append(name)
        return 1


def tap(domain: str) -> str:
    return tap_name(domain, LAB_MAC)


def chain(domain: str) -> str:
    t = tap(domain)
    return f"Bridge chain: libvirt-I-{t}, entries: 1, policy: RETURN\n-j DROP\n"


def listing(*standing: str) -> str:
    jumps = "".join(f"-i {tap(d)} -j libvirt-I-{tap(d)}\n" for d in standing)
    head = f"Bridge chain: PREROUTING, entries: {len(standing)}, policy: ACCEPT\n{jumps}\n"
    return "Bridge table: nat\n\n" + head + "".join(chain(d) for d in standing)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", libvirt_uri="qemu:///system", prefix=PREFIX)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The driver and the listings `check` reads (set by each test)."""
    state: dict[str, Any] = {"nft": GUEST_FIREWALL, "ebtables": "", "iptables": ""}

    def read(argv: list[str], unknown: list[str]) -> str | None:
        value = state[argv[0]]
        if value is None:
            unknown.append(f"{argv[0]} is not installed, so its rules cannot be read")
        return value  # type: ignore[no-any-return]

    monkeypatch.setattr(isolation, "_read", read)
    monkeypatch.setattr(Driver, "open", lambda uri: state["driver"])
    monkeypatch.setattr(targets, "connect", lambda settings, host: state["driver"])
    yield state


def test_every_rule_standing_is_ok(settings: Settings, fake: dict[str, Any]) -> None:
    a, b = f"{PREFIX}l1.a", f"{PREFIX}l1.b"
    fake["driver"] = FakeDriver(
        {a: DomainState.RUNNING, b: DomainState.RUNNING}, {tap(a): a, tap(b): b}
    )
    fake["ebtables"] = listing(a, b)
    seen = isolation.check(settings)
    assert (seen.guest_firewall, seen.filtered, seen.unfiltered) == (True, ("l1/a", "l1/b"), ())
    assert seen.ok and seen.orphans == () and seen.unknown == ()


def test_what_libvirt_holds_without_its_rules_is_unfiltered(
    settings: Settings, fake: dict[str, Any]
) -> None:
    running, stopped, unbound = f"{PREFIX}l1.a", f"{PREFIX}l1.b", f"{PREFIX}l2.m"
    fake["driver"] = FakeDriver(
        {running: DomainState.RUNNING, stopped: DomainState.SHUTOFF, unbound: DomainState.RUNNING},
        {tap(running): running, tap(stopped): stopped},
    )
    fake["ebtables"] = listing()  # flushed
    seen = isolation.check(settings)
    # The stopped machine would start unfiltered (its binding is held); the running one
    # libvirt holds no binding for runs unfiltered now.
    assert seen.unfiltered == ("l1/a", "l1/b", "l2/m")
    assert seen.filtered == () and not seen.ok
    (problem,) = seen.problems()
    assert "3 lab machine(s) are gone" in problem.message and "l2/m" in problem.message
    assert problem.hint == "make them again: lab host refilter"


def test_a_stopped_machine_without_a_binding_is_made_one_at_its_start(
    settings: Settings, fake: dict[str, Any]
) -> None:
    stopped = f"{PREFIX}l1.a"
    fake["driver"] = FakeDriver({stopped: DomainState.SHUTOFF}, {})
    fake["ebtables"] = listing()
    seen = isolation.check(settings)
    assert (seen.filtered, seen.unfiltered) == ((), ())
    assert seen.ok


def test_bindings_of_vanished_machines_are_left_overs_and_others_are_not_ours(
    settings: Settings, fake: dict[str, Any]
) -> None:
    gone, theirs = f"{PREFIX}l9.x", "someone-else.vm"
    fake["driver"] = FakeDriver({}, {tap(gone): gone, tap(theirs): theirs})
    seen = isolation.check(settings)
    assert seen.orphans == (tap(gone),)
    assert seen.ok  # left overs filter nothing that runs


def test_no_guest_firewall_fails_and_what_cannot_be_read_is_said(
    settings: Settings, fake: dict[str, Any]
) -> None:
    a = f"{PREFIX}l1.a"
    fake["driver"] = FakeDriver({a: DomainState.RUNNING}, {tap(a): a})
    fake["nft"] = ""  # no such table
    fake["ebtables"] = None
    seen = isolation.check(settings)
    assert seen.guest_firewall is False and not seen.ok
    (problem,) = seen.problems()
    assert "systemctl reload hromada-lab-firewall" in (problem.hint or "")
    assert (seen.filtered, seen.unfiltered) == (None, None)
    assert seen.unknown == ("ebtables is not installed, so its rules cannot be read",)


def test_another_machines_libvirt_is_not_read(tmp_path: Path) -> None:
    remote = Settings(home=tmp_path, libvirt_uri="qemu+ssh://lab2/system", prefix=PREFIX)
    seen = isolation.check(remote)
    assert seen.guest_firewall is None and seen.unfiltered is None and seen.ok
    assert "not this machine's libvirt" in seen.unknown[0]


def test_refilter_makes_running_machines_anew_and_removes_left_overs(
    settings: Settings, fake: dict[str, Any]
) -> None:
    running, stopped, gone = f"{PREFIX}l1.a", f"{PREFIX}l1.b", f"{PREFIX}l9.x"
    driver = FakeDriver(
        {running: DomainState.RUNNING, stopped: DomainState.SHUTOFF},
        {tap(running): running, tap(stopped): stopped, tap(gone): gone},
    )
    fake["driver"] = driver
    lines: list[str] = []
    done = isolation.refilter(settings, progress=lambda _s, m: lines.append(m))
    assert (done.now, done.at_next_start, done.orphans, done.busy) == (
        ("l1/a",),
        ("l1/b",),
        (tap(gone),),
        (),
    )
    assert driver.held == {tap(running): running}
    assert lines == ["l1: NIC filters made anew"]


def test_refilter_passes_a_busy_lab_by_and_names_it(
    settings: Settings, fake: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    busy, free = f"{PREFIX}l1.a", f"{PREFIX}l2.a"
    driver = FakeDriver(
        {busy: DomainState.RUNNING, free: DomainState.RUNNING}, {tap(busy): busy, tap(free): free}
    )
    fake["driver"] = driver
    monkeypatch.setattr(isolation, "LOCK_WAIT", 0.0)
    with lab_lock(settings, "l1"):  # another operation on l1
        done = isolation.refilter(settings)
    assert (done.now, done.busy) == (("l2/a",), ("l1",))
    assert driver.made == [free]


def test_a_lab_network_whose_rules_are_gone_may_be_routed(
    settings: Settings, fake: dict[str, Any]
) -> None:
    kept, lost = f"{PREFIX}l1.net", f"{PREFIX}l1._mgmt"
    fake["driver"] = FakeDriver({}, {}, networks=(kept, lost, "default"))
    bridge = bridge_name(kept)
    fake["iptables"] = (
        f"-A LIBVIRT_FWI -o {bridge} -j REJECT --reject-with icmp-port-unreachable\n"
        f"-A LIBVIRT_FWO -i {bridge} -j REJECT --reject-with icmp-port-unreachable\n"
    )
    seen = isolation.check(settings)
    assert (seen.isolated, seen.routed) == (("l1/net",), ("l1/_mgmt",))
    (problem,) = seen.problems()
    assert "l1/_mgmt" in problem.message and "restart libvirtd" in (problem.hint or "")
