import xml.etree.ElementTree as ET
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.driver import FilterRef, nic_filter_xml
from lab.errors import ConflictError, InvalidError
from lab.host.model import HostTarget, SshJump
from lab.labs import naming
from lab.labs.driver_specs import nic_spec
from lab.labs.plan import MANAGEMENT, allocate_management, plan_lab
from lab.profile import load_profile, load_profile_text
from lab.settings import NicFilter

PROFILES = Path(__file__).parents[2] / "profiles"
MGMT = IPv4Network("10.250.3.0/24")


def test_pair_plan_names_every_object_of_the_lab(tmp_path: Path) -> None:
    plan = plan_lab(load_profile(PROFILES / "pair.yaml"), "p1", "hl-", tmp_path, MGMT)
    assert [m.domain for m in plan.machines] == ["hl-p1.a", "hl-p1.b"]
    assert [n.libvirt_name for n in plan.all_networks] == ["hl-p1.net", f"hl-p1.{MANAGEMENT}"]
    assert all(len(n.bridge) <= 15 for n in plan.all_networks)
    # The profile's network is pure layer 2; only the management network has the host on it.
    assert plan.networks[0].host_address is None
    assert str(plan.management.host_address) == "10.250.3.1/24"
    assert [str(m.nics[0].address) for m in plan.machines] == ["10.78.0.10", "10.78.0.11"]
    assert [str(m.management_address) for m in plan.machines] == ["10.250.3.10", "10.250.3.11"]
    assert plan.machines[0].overlay == tmp_path / "p1" / "disks" / "a.qcow2"
    assert plan.machines[0].memory_mib == 512


def test_addresses_are_allocated_deterministically_around_static_ones(tmp_path: Path) -> None:
    text = """
community: {name: alloc, title: T, oblast: O, kind: rural}
networks: [{name: n, cidr: 10.1.0.0/24}]
machines:
  - {name: x, image: i, memory: 512MiB, nics: [{network: n}]}
  - {name: y, image: i, memory: 512MiB, nics: [{network: n, address: 10.1.0.10}]}
  - {name: z, image: i, memory: 512MiB, nics: [{network: n}]}
"""
    profile = load_profile_text(text, "alloc.yaml")
    first = plan_lab(profile, "a", "hl-", tmp_path, MGMT)
    again = plan_lab(profile, "b", "hl-", tmp_path, MGMT)
    addresses = [m.nics[0].address for m in first.machines]
    assert addresses == [
        IPv4Address("10.1.0.11"),
        IPv4Address("10.1.0.10"),
        IPv4Address("10.1.0.12"),
    ]
    # Every seat of a class looks the same inside; only MACs and names differ.
    assert [m.nics[0].address for m in again.machines] == addresses
    assert {n.mac for m in first.machines for n in m.nics}.isdisjoint(
        {n.mac for m in again.machines for n in m.nics}
    )


def test_full_network_is_a_located_error(tmp_path: Path) -> None:
    machines = "\n".join(
        f"  - {{name: m{i}, image: i, memory: 256MiB, nics: [{{network: n}}]}}" for i in range(6)
    )
    text = (
        "community: {name: full, title: T, oblast: O, kind: rural}\n"
        "networks: [{name: n, cidr: 10.1.0.0/29}]\nmachines:\n" + machines + "\n"
    )
    profile = load_profile_text(text, "full.yaml")
    with pytest.raises(InvalidError, match="no free address"):
        plan_lab(profile, "f", "hl-", tmp_path, MGMT)


@pytest.mark.parametrize("bad", ["", "A", "-x", "x-", "a.b", "a b", "../etc", "x" * 33, "a\0b"])
def test_bad_lab_names_are_refused_with_a_hint(bad: str) -> None:
    with pytest.raises(InvalidError) as info:
        naming.check_lab_name(bad)
    assert "letters, digits" in info.value.hint


def test_names_split_back_to_lab_and_member() -> None:
    assert naming.split_name("hl-", naming.domain_name("hl-", "demo-1", "m1")) == ("demo-1", "m1")
    assert naming.split_name("hl-", "hl-nodot") is None
    assert naming.split_name("hl-", "other.m1") is None


def test_macs_are_stable_and_in_qemu_range() -> None:
    mac = naming.mac_address("demo", "m1", 0)
    assert mac == naming.mac_address("demo", "m1", 0)
    assert mac.startswith("52:54:00:")
    assert mac != naming.mac_address("demo", "m1", 1)


def test_management_subnets_are_allocated_first_free() -> None:
    pool = IPv4Network("10.250.0.0/22")
    used = {IPv4Network("10.250.0.0/24"), IPv4Network("10.250.2.0/24")}
    assert allocate_management(pool, used) == IPv4Network("10.250.1.0/24")
    with pytest.raises(ConflictError, match="LAB_MGMT_POOL"):
        allocate_management(pool, set(pool.subnets(new_prefix=24)))


def test_profile_network_overlapping_management_is_refused(tmp_path: Path) -> None:
    profile = load_profile(PROFILES / "tiny.yaml")
    with pytest.raises(InvalidError, match="overlaps the lab's management network"):
        plan_lab(profile, "t", "hl-", tmp_path, IPv4Network("10.77.0.0/24"))


def test_management_subnet_avoids_anything_overlapping_other_networks() -> None:
    pool = IPv4Network("10.250.0.0/16")
    taken = {IPv4Network("10.250.0.0/23"), IPv4Network("10.250.2.128/25")}
    assert allocate_management(pool, taken) == IPv4Network("10.250.3.0/24")


def test_every_nic_carries_clean_traffic_with_its_planned_address(tmp_path: Path) -> None:
    plan = plan_lab(load_profile(PROFILES / "pair.yaml"), "p1", "hl-", tmp_path, MGMT)
    machine = plan.machines[0]
    filtered = [nic_spec(nic, NicFilter.CLEAN_TRAFFIC) for nic in machine.all_nics]
    assert [(n.mac, n.filterref) for n in filtered] == [
        (nic.mac, FilterRef(name="clean-traffic", parameters={"IP": str(nic.address)}))
        for nic in machine.all_nics
    ]
    assert filtered[0].filterref is not None
    assert filtered[0].filterref.parameters["IP"] == "10.78.0.10"
    assert all(nic_spec(n, NicFilter.NONE).filterref is None for n in machine.all_nics)


def test_our_nic_filter_is_one_chain_of_rules_on_what_the_guest_sends() -> None:
    root = ET.fromstring(nic_filter_xml())
    assert (root.get("name"), root.get("chain")) == ("hromada-lab-nic", "root")
    # A fixed UUID: a second definition (two labs starting at once) is an update, not a clash.
    uuid = root.findtext("uuid")
    assert uuid and ET.fromstring(nic_filter_xml()).findtext("uuid") == uuid
    rules = root.findall("rule")
    assert {r.get("direction") for r in rules} == {"out"}
    first, last = rules[0], rules[-1]
    assert first.get("action") == "drop" and first[0].attrib == {
        "match": "no",
        "srcmacaddr": "$MAC",
    }
    assert last.get("action") == "drop" and last[0].tag == "mac" and not last[0].attrib
    assert [r.get("priority") for r in rules] == sorted(
        (r.get("priority") for r in rules), key=lambda p: int(p or 0)
    )


def test_a_lab_on_another_server_has_its_files_in_that_servers_pool(tmp_path: Path) -> None:
    jump = SshJump(user="hromada-lab", host="lab2", key=Path("/k"), known_hosts=Path("/kh"))
    target = HostTarget(name="lab2", pool_path=Path("/var/lib/libvirt/hromada-lab"), jump=jump)
    profile = load_profile(PROFILES / "pair.yaml")
    plan = plan_lab(profile, "p1", "hl-", tmp_path, MGMT, target)
    assert plan.remote and plan.host == "lab2" and plan.jump == jump
    a = plan.machines[0]
    # Named after the domain, flat in the pool: a lab's volumes are found by its name.
    assert a.overlay == Path("/var/lib/libvirt/hromada-lab/hl-p1.a.qcow2")
    assert a.seed == Path("/var/lib/libvirt/hromada-lab/hl-p1.a.seed.iso")
    assert a.console_log == Path("/var/lib/libvirt/hromada-lab/hl-p1.a.console.log")
    assert naming.split_name("hl-", a.overlay.name) == ("p1", "a.qcow2")
    # Keys and SSH files stay on this machine, where the control node reaches guests from.
    assert plan.keys_dir == tmp_path / "p1" / "keys"
    here = plan_lab(profile, "p1", "hl-", tmp_path, MGMT)
    assert not here.remote and here.jump is None
    assert here.machines[0].overlay == tmp_path / "p1" / "disks" / "a.qcow2"
