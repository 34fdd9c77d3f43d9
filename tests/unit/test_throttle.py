"""The login throttle's keys and limits, and the hash gate's refusals (pure, no server)."""

from __future__ import annotations

import threading
import time

import pytest

from lab.access.throttle import HashGate, LoginThrottle, source_key
from lab.errors import ThrottledError


def test_an_ipv6_source_is_its_64_and_a_mapped_ipv4_is_the_ipv4() -> None:
    assert (
        source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("::ffff:192.0.2.7") == source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("x" * 500) == "x" * 64


def test_one_account_tried_from_many_places_is_locked_everywhere() -> None:
    throttle = LoginThrottle(attempts=5, window=900, clock=lambda: 0.0)
    for i in range(49):
        throttle.failed("olena", f"10.0.{i}.1")  # 49 sources, once each: no pair locked
    throttle.check("olena", "10.9.9.9")
    assert throttle.failed("olena", "10.0.99.1")  # the 50th: the account's limit
    with pytest.raises(ThrottledError):
        throttle.check("olena", "10.9.9.9")
    throttle.check("taras", "10.9.9.9")


def test_a_right_password_forgives_earlier_failures_of_that_pair() -> None:
    throttle = LoginThrottle(attempts=5, window=900, clock=lambda: 0.0)
    for _ in range(4):
        throttle.failed("olena", "10.0.0.1")
    throttle.succeeded("olena", "10.0.0.1")
    for _ in range(4):
        assert not throttle.failed("olena", "10.0.0.1")
    throttle.check("olena", "10.0.0.1")


def test_the_throttle_remembers_a_bounded_number_of_keys() -> None:
    throttle = LoginThrottle(attempts=5, window=900, clock=lambda: 0.0, max_keys=100)
    for i in range(1000):
        throttle.failed(f"name{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(throttle._counts) <= 100 and len(throttle._locked) <= 100


def test_the_gate_refuses_at_once_when_full_and_after_a_wait() -> None:
    gate = HashGate(workers=1, waiting=1, wait=1.0)
    release = threading.Event()
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(gate.run(release.wait, 10)))
    first.start()
    waiter = threading.Thread(target=lambda: results.append(_refused(gate)))
    waiter.start()
    deadline = time.monotonic() + 5
    while gate._inside < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _refused(gate) == "refused"  # one hashing, one waiting: no room for a third
    waiter.join(5)
    assert results == ["refused"]  # the waiter had its second, then was refused
    release.set()
    first.join(5)
    assert results == ["refused", True]
    assert gate.run(lambda: 42) == 42  # free again


def _refused(gate: HashGate) -> str:
    try:
        gate.run(lambda: None)
    except ThrottledError:
        return "refused"
    return "ran"
