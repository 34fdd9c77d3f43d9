"""Probes: the model's rules."""

from __future__ import annotations

from typing import Any

import pytest

from lab.errors import InvalidError
from lab.probes.model import ProbeKind, ProbeSpec

LOOPBACK = "127.0.0.1"


def spec(kind: str, **fields: Any) -> ProbeSpec:
    fields.setdefault("machine", "docflow")
    if kind != "agent":
        fields.setdefault("address", LOOPBACK)
    return ProbeSpec(kind=ProbeKind(kind), **fields)


# -- the model --------------------------------------------------------------------------


def test_describe_says_what_is_probed() -> None:
    address = "10.77.0.20"
    assert spec("http", address=address, path="/health").describe() == (
        "HTTP http://10.77.0.20:80/health"
    )
    assert spec("https", address=address).describe() == "HTTPS https://10.77.0.20:443/"
    assert spec("tcp", address=address, port=22).describe() == "TCP 10.77.0.20:22"
    assert spec("icmp", address=address).describe() == "ICMP 10.77.0.20"
    assert spec("agent").describe() == "guest agent"


@pytest.mark.parametrize(
    ("kind", "fields", "words"),
    [
        ("tcp", {}, "needs a port"),
        ("http", {"address": None}, "needs an address"),
        ("agent", {"address": LOOPBACK}, "takes no address"),
        ("icmp", {"port": 7}, "takes no port"),
        ("tcp", {"port": 0}, "not between 1 and 65535"),
        ("tcp", {"port": 70000}, "not between 1 and 65535"),
        ("tcp", {"port": 22, "path": "/x"}, "takes no path"),
        ("icmp", {"expect_text": "ok"}, "takes no path"),
        ("http", {"path": "health"}, "not a URL path"),
        ("http", {"path": "/a b"}, "not a URL path"),
        ("http", {"path": "/a\nb"}, "not a URL path"),
        ("http", {"path": "/" + "a" * 200}, "not a URL path"),
        ("http", {"path": "/Громада"}, "not a URL path"),
        ("http", {"expect_status": 42}, "not an HTTP status"),
        ("http", {"expect_text": ""}, "expected text"),
        ("http", {"expect_text": "two\nlines"}, "expected text"),
        ("http", {"timeout": 0}, "timeout"),
        ("http", {"timeout": 600}, "timeout"),
    ],
)
def test_a_spec_that_cannot_work_is_refused(kind: str, fields: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidError, match=words) as caught:
        spec(kind, **fields)
    assert "docflow" in caught.value.message


def test_specs_are_frozen() -> None:
    s = spec("tcp", port=22)
    with pytest.raises(ValueError, match="frozen"):
        s.port = 23  # type: ignore[misc]
