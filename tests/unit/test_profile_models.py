"""The profile models and value types, built directly (no YAML)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from typing import Any

import pytest
from pydantic import ValidationError

from lab.profile import (
    Account,
    Check,
    Community,
    Machine,
    Network,
    Nic,
    Profile,
    Size,
    profile_json_schema,
)


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "community": {"name": "t", "title": "Т", "oblast": "Київська", "kind": "rural"},
        "networks": [{"name": "net", "cidr": "10.77.0.0/24"}],
        "machines": [
            {"name": "m1", "image": "debian-12", "memory": "512MiB", "nics": [{"network": "net"}]}
        ],
    }
    data.update(changes)
    return data


# -- Size -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size", "canonical"),
    [
        ("512MiB", 512 * 2**20, "512MiB"),
        ("1024MiB", 2**30, "1GiB"),
        ("1.5GiB", 1536 * 2**20, "1536MiB"),
        ("4 GiB", 4 * 2**30, "4GiB"),
        ("2TiB", 2 * 2**40, "2TiB"),
        ("3KiB", 3 * 1024, "3KiB"),
    ],
)
def test_size_parses_and_prints_canonically(text: str, size: int, canonical: str) -> None:
    parsed = Size.parse(text)
    assert parsed == size
    assert str(parsed) == canonical
    assert Size.parse(str(parsed)) == parsed


@pytest.mark.parametrize("text", ["512", "512M", "512MB", "1.5", "MiB", "-1MiB", "0.3KiB", ""])
def test_size_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        Size.parse(text)


def test_size_helpers() -> None:
    size = Size.parse("1536MiB")
    assert size.mib == 1536
    assert size.gib == 1.5
    assert size.kib == 1536 * 1024
    assert repr(size) == "Size('1536MiB')"


def test_size_serialises_to_its_canonical_string() -> None:
    machine = Machine.model_validate(minimal()["machines"][0])
    dumped = machine.model_dump(mode="json")
    assert dumped["memory"] == "512MiB"
    assert dumped["disk"] == "4GiB"
    assert isinstance(machine.model_dump()["memory"], Size)


def test_bare_number_memory_is_refused_with_advice() -> None:
    with pytest.raises(ValidationError, match="write 512MiB"):
        Machine(name="m", image="i", memory=512, nics=(Nic(network="n"),))


# -- models -----------------------------------------------------------------------------


def test_profile_is_frozen_with_tuples() -> None:
    profile = Profile.model_validate(minimal())
    assert isinstance(profile.machines, tuple)
    assert isinstance(profile.machines[0].nics, tuple)
    with pytest.raises(ValidationError):
        profile.abstract = True


def test_models_forbid_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        Network.model_validate({"name": "n", "cidr": "10.0.0.0/24", "vlan": 3})


def test_network_host_address() -> None:
    network = Network.model_validate({"name": "office", "cidr": "10.20.0.0/24"})
    assert network.host_address == IPv4Address("10.20.0.1")


@pytest.mark.parametrize(
    ("cidr", "words"),
    [
        ("10.20.0.5/24", "host bits set: the network is 10.20.0.0/24"),
        ("10.20.0.0", "no prefix length"),
        ("10.20.0.0/30", "prefix from /16 to /29, got /30"),
        ("10.0.0.0/8", "got /8"),
        ("fe80::/64", "not an IPv4 network"),
    ],
)
def test_bad_cidr(cidr: str, words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("/", "/").replace(".", r"\.")):
        Network.model_validate({"name": "n", "cidr": cidr})


@pytest.mark.parametrize("name", ["Office", "-a", "a-", "a_b", "", "x" * 16])
def test_bad_network_names(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a valid name"):
        Network.model_validate({"name": name, "cidr": "10.0.0.0/24"})


def test_account_names_are_posix() -> None:
    assert Account.model_validate({"name": "_svc-1", "kind": "staff"}).name == "_svc-1"
    with pytest.raises(ValidationError):
        Account.model_validate({"name": "1user", "kind": "staff"})
    with pytest.raises(ValidationError):
        Account.model_validate({"name": "ok", "kind": "boss"})


def test_community_kind_is_a_strenum() -> None:
    community = Community.model_validate(minimal()["community"])
    assert community.kind == "rural"
    assert community.kind.value == "rural"


def test_cross_checks_run_on_direct_construction() -> None:
    machines = minimal()["machines"] * 2
    with pytest.raises(ValidationError, match=r"machines\[1\]\.name: duplicate machine name"):
        Profile.model_validate(minimal(machines=machines))


def test_non_abstract_needs_community_and_machines() -> None:
    with pytest.raises(ValidationError, match="missing required key 'community'"):
        Profile.model_validate(minimal(community=None))
    with pytest.raises(ValidationError, match="at least one machine"):
        Profile.model_validate(minimal(machines=[]))
    assert Profile.model_validate({"abstract": True}).abstract


def test_checks_for_a_machine() -> None:
    tests = [
        {"name": "all", "run": "true", "quick": True},
        {"name": "only-m1", "machine": "m1", "run": "true"},
    ]
    profile = Profile.model_validate(minimal(tests=tests))
    assert [c.name for c in profile.checks_for("m1")] == ["all", "only-m1"]
    assert [c.name for c in profile.checks_for("m1", quick_only=True)] == ["all"]
    assert profile.machine("m1").memory.mib == 512
    assert profile.network("net").cidr.prefixlen == 24
    with pytest.raises(KeyError):
        profile.machine("absent")
    assert Check.model_validate(tests[0]).expect_exit == 0


# -- schema -----------------------------------------------------------------------------


def test_json_schema() -> None:
    schema = profile_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert set(schema["properties"]) == {
        "extends",
        "abstract",
        "recommended",
        "community",
        "networks",
        "machines",
        "accounts",
        "tests",
    }
    assert schema["additionalProperties"] is False
    machine = schema["$defs"]["Machine"]["properties"]
    assert machine["memory"]["type"] == "string"
    assert "MiB" in machine["memory"]["pattern"]
    assert machine["disk"]["default"] == "4GiB"
