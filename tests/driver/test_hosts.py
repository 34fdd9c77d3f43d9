"""Lab hosts: `local` always there, added hosts recorded only once they answer, draining
keeping new labs off, removal refused while labs are on a host. `local` here is libvirt's
test driver; a host that cannot be reached is a real ssh connection refused on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.errors import ConflictError, DriverError, InvalidError, NotFoundError
from lab.host import hosts, targets
from lab.host.model import LOCAL, HostRecord
from lab.host.records import HostStore
from lab.labs import lifecycle
from lab.placement import admission
from lab.placement.place import CapacityError
from lab.settings import Settings
from lab.store.state import StateStore, now
from tests.driver.conftest import TEST_URI
from tests.unit.test_state import _lab

# Nothing listens on port 1 of loopback: ssh is refused at once, libvirt says so.
DEAD = "qemu+ssh://hromada-lab@127.0.0.1:1/system?no_tty=1&known_hosts_verify=ignore"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, libvirt_uri=TEST_URI, host_pool=tmp_path / "pool")


def test_local_is_there_with_no_host_added(settings: Settings) -> None:
    [local] = hosts.list_hosts(settings)
    assert local.name == LOCAL and local.uri == TEST_URI
    assert local.reachable and not local.draining and not local.problem
    assert local.accel in ("kvm", "tcg")
    assert local.cpus and local.memory_available_bytes and local.disk_free_bytes
    assert local.labs == ()


def test_a_host_is_shown_with_the_room_admission_counts_for_new_labs(
    settings: Settings,
) -> None:
    StateStore.open(settings).add_lab(_lab("a"))  # being made: owes all it needs
    HostStore.open(settings).add(HostRecord(name="lab2", uri=DEAD, added_at=now()))
    local, lab2 = admission.host_views(settings)
    room = admission.host_room(settings)
    assert local.memory_reserve_bytes == room.memory_reserve_bytes == 1 << 30
    assert local.memory_promised_bytes == room.memory_promised_bytes > 0
    assert local.memory_free_for_labs_bytes is not None
    assert abs(local.memory_free_for_labs_bytes - room.memory_free_bytes) < 256 << 20
    assert not lab2.reachable and lab2.memory_free_for_labs_bytes is None


def test_labs_are_listed_on_their_host(settings: Settings) -> None:
    StateStore.open(settings).add_lab(_lab("b"))
    StateStore.open(settings).add_lab(_lab("a"))
    [local] = hosts.list_hosts(settings)
    assert local.labs == ("a", "b")


def test_a_draining_host_takes_no_new_lab_and_opens_again(settings: Settings) -> None:
    plan = _lab("new").plan
    hosts.drain(settings, LOCAL)
    assert hosts.list_hosts(settings)[0].draining
    with pytest.raises(CapacityError) as refused:
        admission.check_fits(settings, None, [plan], "lab 'new'")  # type: ignore[arg-type]
    assert "host local is draining" in refused.value.message
    assert "lab host drain local --undo" in refused.value.hint
    hosts.drain(settings, LOCAL, draining=False)
    assert hosts.accepting(settings, LOCAL)
    assert not hosts.list_hosts(settings)[0].draining


def test_local_cannot_be_removed(settings: Settings) -> None:
    with pytest.raises(ConflictError, match="cannot be removed"):
        hosts.remove(settings, LOCAL)


def test_a_host_that_does_not_answer_is_not_added(settings: Settings) -> None:
    with pytest.raises(DriverError) as refused:
        hosts.add_host(settings, "lab2", DEAD)
    assert refused.value.message.startswith("host lab2 was not added: cannot connect")
    assert "playbooks/host.yml" in refused.value.hint
    assert [h.name for h in hosts.list_hosts(settings)] == [LOCAL]


@pytest.mark.parametrize(
    ("name", "uri", "error"),
    [
        ("Lab 2", DEAD, "not a valid host name"),
        ("lab2", "qemu+ssh://u@h/system?command=/bin/true", "'command' is not accepted"),
        ("lab2", TEST_URI, "not 'test'"),
    ],
)
def test_bad_names_and_uris_are_refused_before_connecting(
    settings: Settings, name: str, uri: str, error: str
) -> None:
    with pytest.raises(InvalidError, match=error):
        hosts.add_host(settings, name, uri)
    assert [h.name for h in hosts.list_hosts(settings)] == [LOCAL]


def test_a_known_host_that_stops_answering_is_listed_unreachable(settings: Settings) -> None:
    HostStore.open(settings).add(HostRecord(name="lab2", uri=DEAD, added_at=now()))
    local, lab2 = hosts.list_hosts(settings)
    assert local.reachable
    assert lab2.name == "lab2" and not lab2.reachable
    assert "cannot connect" in lab2.problem and lab2.hint
    assert lab2.cpus is None and lab2.disk_free_bytes is None


def test_names_and_uris_are_unique(settings: Settings) -> None:
    store = HostStore.open(settings)
    store.add(HostRecord(name="lab2", uri=DEAD, added_at=now()))
    with pytest.raises(ConflictError, match="the name 'lab2'"):
        store.add(HostRecord(name="lab2", uri=DEAD + "&x", added_at=now()))
    with pytest.raises(ConflictError, match="the URI"):
        store.add(HostRecord(name="lab3", uri=DEAD, added_at=now()))
    with pytest.raises(ConflictError, match="this machine's own host"):
        store.add(HostRecord(name="lab4", uri=TEST_URI, added_at=now()))
    with pytest.raises(ConflictError, match="known already"):
        hosts.add_host(settings, "lab2", "qemu+tls://elsewhere/system")


def test_a_host_with_labs_is_not_removed(settings: Settings) -> None:
    HostStore.open(settings).add(HostRecord(name="lab2", uri=DEAD, added_at=now()))
    StateStore.open(settings).add_lab(_lab("far").model_copy(update={"host": "lab2"}))
    with pytest.raises(ConflictError, match="host lab2 still has labs: far"):
        hosts.remove(settings, "lab2")
    StateStore.open(settings).delete_lab("far")
    hosts.remove(settings, "lab2")
    assert [h.name for h in hosts.list_hosts(settings)] == [LOCAL]
    with pytest.raises(NotFoundError, match="no host named 'lab2'"):
        hosts.drain(settings, "lab2")


@pytest.fixture
def hanging() -> Iterator[str]:
    """A server that takes the connection and never answers (an ssh URI to a loopback port
    that accepts and stays silent): libvirt's connect would wait for good."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        yield f"qemu+ssh://hromada-lab@127.0.0.1:{port}/system?no_tty=1&known_hosts_verify=ignore"
    finally:
        listener.close()


def test_a_server_that_hangs_is_given_up_on(
    settings: Settings, hanging: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    with pytest.raises(DriverError, match="did not answer within 1 s"):
        hosts.open_within(hanging, 1.0)
    assert time.monotonic() - started < 5
    # Its labs are reported and kept, as for a server that is down.
    HostStore.open(settings).add(HostRecord(name="lab2", uri=hanging, added_at=now()))
    StateStore.open(settings).add_lab(_lab("far").model_copy(update={"host": "lab2"}))
    report = lifecycle.reconcile(settings, host_seconds=1.0)
    assert report.unreachable == ("far",) and not report.removed
    assert StateStore.open(settings).find_lab("far") is not None
    # So is an operation on one of its labs: given up on, the lab left as recorded.
    monkeypatch.setattr(targets, "PROBE_SECONDS", 1.0)
    started = time.monotonic()
    for operation in (lifecycle.status, resets.reset, lifecycle.down):
        with pytest.raises(DriverError, match="did not answer within 1 s"):
            operation(settings, "far")
    assert time.monotonic() - started < 15
    assert StateStore.open(settings).get_lab("far").host == "lab2"
