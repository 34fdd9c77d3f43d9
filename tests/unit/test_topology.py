"""A lab's topology from its plan: networks, machines, roles, appliances and addresses."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.labs.plan import plan_lab
from lab.labs.topology import Topology, TopologyAddress, topology
from lab.profile import load_profile

PROFILES = Path(__file__).parents[2] / "profiles"
MGMT = IPv4Network("10.250.3.0/24")


def _topology(name: str, tmp_path: Path) -> Topology:
    return topology(plan_lab(load_profile(PROFILES / f"{name}.yaml"), "t1", "hl-", tmp_path, MGMT))


def test_every_machine_with_its_address_on_each_network(tmp_path: Path) -> None:
    picture = _topology("pair", tmp_path)
    assert picture.lab == "t1" and picture.profile == "pair"
    assert [(n.name, n.cidr) for n in picture.networks] == [("net", IPv4Network("10.78.0.0/24"))]
    assert picture.management == MGMT
    assert [m.name for m in picture.machines] == ["a", "b"]
    a, b = picture.machines
    assert a.addresses == (TopologyAddress(network="net", address=IPv4Address("10.78.0.10")),)
    assert b.addresses[0].address == IPv4Address("10.78.0.11")
    assert a.management_address == IPv4Address("10.250.3.10")
    assert b.management_address == IPv4Address("10.250.3.11")
    assert not a.appliance and a.roles == ()


def test_two_networks_roles_and_appliances(tmp_path: Path) -> None:
    picture = _topology("own-machines", tmp_path)
    appliances = [m for m in picture.machines if m.appliance]
    assert appliances, "own-machines runs appliances"
    for machine in appliances:  # known by its first address: no management NIC
        assert machine.management_address == machine.addresses[0].address
        assert not str(machine.management_address).startswith("10.250.3.")
    managed = [m for m in picture.machines if not m.appliance]
    assert all(str(m.management_address).startswith("10.250.3.") for m in managed)
    networks = {n.name: n.cidr for n in picture.networks}
    for machine in picture.machines:
        for address in machine.addresses:
            assert address.address in networks[address.network]


def test_city_has_two_networks_and_roles(tmp_path: Path) -> None:
    picture = _topology("city-hromada", tmp_path)
    assert len(picture.networks) == 2
    assert any(m.roles for m in picture.machines)
    on = {a.network for m in picture.machines for a in m.addresses}
    assert on == {n.name for n in picture.networks}


def test_the_topology_is_frozen(tmp_path: Path) -> None:
    picture = _topology("pair", tmp_path)
    with pytest.raises(ValueError):
        picture.machines[0].name = "x"  # type: ignore[misc]
