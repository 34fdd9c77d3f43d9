"""The network XML builder: expected output, libvirt's own schema, validation of specs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest
from pydantic import ValidationError

from lab.commands import run
from lab.driver import DhcpHost, DhcpRange, DnsMode, NetworkSpec, network_xml
from lab.labs.naming import bridge_name

EXPECTED = Path(__file__).parent / "expected"


def lan_spec(**changes: object) -> NetworkSpec:
    base: dict[str, object] = {
        "name": "hl-demo-lan",
        "bridge": bridge_name("demo-lan"),
        "host_address": IPv4Interface("10.10.0.1/24"),
        "dhcp_range": DhcpRange(start=IPv4Address("10.10.0.100"), end=IPv4Address("10.10.0.199")),
        "dhcp_hosts": (
            DhcpHost(mac="52:54:00:12:34:56", ip=IPv4Address("10.10.0.11"), hostname="web1"),
            DhcpHost(mac="52:54:00:12:34:57", ip=IPv4Address("10.10.0.12"), hostname="db1"),
        ),
    }
    base.update(changes)
    return NetworkSpec.model_validate(base)


def plain_spec() -> NetworkSpec:
    """Static addressing only, DNS off, an MTU, and (explicitly asked for) NAT."""
    return NetworkSpec(
        name="hl-class1-seat03",
        bridge="hlb-c1s03",
        host_address=IPv4Interface("172.16.3.1/28"),
        isolated=False,
        mtu=1400,
        dns=DnsMode.DISABLED,
    )


def validate(tmp_path: Path, xml: str) -> None:
    path = tmp_path / "network.xml"
    path.write_text(xml)
    run(["virt-xml-validate", path, "network"], hint="apt-get install libvirt-clients")


@pytest.mark.parametrize(
    ("spec", "expected"), [(lan_spec(), "network-lan.xml"), (plain_spec(), "network-nat.xml")]
)
def test_matches_expected_and_schema(tmp_path: Path, spec: NetworkSpec, expected: str) -> None:
    xml = network_xml(spec)
    assert xml == (EXPECTED / expected).read_text()
    validate(tmp_path, xml)


def test_isolated_by_default_and_no_stp() -> None:
    root = ET.fromstring(network_xml(lan_spec()))
    assert root.find("forward") is None  # no <forward>: libvirt's isolated network
    bridge = root.find("bridge")
    assert bridge is not None
    assert (bridge.get("stp"), bridge.get("delay")) == ("off", "0")
    hosts = root.findall("ip/dhcp/host")
    assert [(h.get("mac"), h.get("ip"), h.get("name")) for h in hosts] == [
        ("52:54:00:12:34:56", "10.10.0.11", "web1"),
        ("52:54:00:12:34:57", "10.10.0.12", "db1"),
    ]


def test_stp_can_be_asked_for() -> None:
    bridge = ET.fromstring(network_xml(lan_spec(stp=True))).find("bridge")
    assert bridge is not None and bridge.get("stp") == "on"


@pytest.mark.parametrize(
    "name", ["lan", "demo-lan", "a-very-long-network-name", "a-very-long-network-other", "ü ü"]
)
def test_bridge_names_fit_the_kernel(name: str) -> None:
    bridge = bridge_name(name)
    assert len(bridge) <= 15
    NetworkSpec(name="x", bridge=bridge, host_address=IPv4Interface("10.0.0.1/24"))


def test_long_bridge_names_stay_distinct() -> None:
    assert bridge_name("a-very-long-network-name") != bridge_name("a-very-long-network-other")
    assert bridge_name("lan") == "hlb-lan"


@pytest.mark.parametrize(
    "changes",
    [
        {"bridge": "much-too-long-bridge"},
        {"host_address": IPv4Interface("10.10.0.0/24")},
        {"dhcp_range": DhcpRange(start=IPv4Address("10.20.0.5"), end=IPv4Address("10.20.0.9"))},
        {"dhcp_range": DhcpRange(start=IPv4Address("10.10.0.9"), end=IPv4Address("10.10.0.5"))},
        {
            "dhcp_hosts": (
                DhcpHost(mac="52:54:00:00:00:01", ip=IPv4Address("10.10.0.1"), hostname="h"),
            )
        },
        {"name": "<evil>"},
        {"forward": "nat"},
    ],
)
def test_spec_rejects(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        lan_spec(**changes)


def test_dhcp_host_rejects_bad_mac_and_hostname() -> None:
    with pytest.raises(ValidationError):
        DhcpHost(mac="52:54:00:00:00", ip=IPv4Address("10.0.0.2"), hostname="h")
    with pytest.raises(ValidationError):
        DhcpHost(mac="52:54:00:00:00:01", ip=IPv4Address("10.0.0.2"), hostname="Web 1")


def test_subnets_of_any_libvirt_network_are_read_from_its_xml() -> None:
    from ipaddress import IPv4Network

    from lab.driver.network_xml import ipv4_subnets

    xml = (
        "<network><name>default</name><ip address='192.168.122.1' netmask='255.255.255.0'/>"
        "<ip family='ipv6' address='fd00::1' prefix='64'/>"
        "<ip address='10.250.0.1' prefix='24'/></network>"
    )
    assert ipv4_subnets(xml) == {IPv4Network("192.168.122.0/24"), IPv4Network("10.250.0.0/24")}
    assert ipv4_subnets("<network><name>l2</name></network>") == set()
