"""A clone's plan: the lab's own names, files, networks and management subnet, with the
template's MAC addresses (its memory states hold them)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.errors import InvalidError
from lab.labs.plan import LabPlan, plan_lab
from lab.profile import Profile, load_profile
from lab.templates.plan import clone_plan, domain_paths, network_names

PROFILES = Path(__file__).parents[2] / "profiles"
SUBNET_A = IPv4Network("10.250.3.0/24")
SUBNET_B = IPv4Network("10.250.9.0/24")


def _plans(profile: str, labs_dir: Path) -> tuple[Profile, LabPlan, LabPlan]:
    spec = load_profile(PROFILES / profile)
    template = plan_lab(spec, "a1", "hl-", labs_dir, SUBNET_A)
    clone = clone_plan(template, spec, "b2", "hl-", labs_dir, SUBNET_B)
    return spec, template, clone


def _offset(address: IPv4Address, subnet: IPv4Network) -> int:
    assert address in subnet
    return int(address) - int(subnet.network_address)


@pytest.mark.parametrize("profile", ["pair.yaml", "own-machines.yaml"])
def test_a_clone_keeps_the_templates_macs_and_has_its_own_names(
    profile: str, tmp_path: Path
) -> None:
    spec, template, clone = _plans(profile, tmp_path)
    own = plan_lab(spec, "b2", "hl-", tmp_path, SUBNET_B)  # the lab B would be without it
    assert clone.lab == "b2"
    assert clone.directory == own.directory == tmp_path / "b2"
    assert clone.networks == own.networks
    assert clone.management == own.management
    assert all(n.libvirt_name.startswith("hl-b2.") for n in clone.all_networks)
    assert {n.bridge for n in clone.all_networks}.isdisjoint(
        {n.bridge for n in template.all_networks}
    )
    for mine, theirs, plain in zip(clone.machines, template.machines, own.machines, strict=True):
        assert mine.name == theirs.name
        assert mine.domain == plain.domain != theirs.domain
        assert [n.mac for n in mine.all_nics] == [n.mac for n in theirs.all_nics]
        assert [n.address for n in mine.nics] == [n.address for n in theirs.nics]
        assert [n.libvirt_network for n in mine.all_nics] == [
            n.libvirt_network for n in plain.all_nics
        ]
        # Everything else is what lab B's own plan says.
        assert mine.model_dump(exclude={"nics", "management"}) == plain.model_dump(
            exclude={"nics", "management"}
        )
        if theirs.management is not None:
            assert mine.management is not None
            assert _offset(mine.management.address, SUBNET_B) == _offset(
                theirs.management.address, SUBNET_A
            )
    # The MACs really were replaced: lab B's own generated ones would differ (an
    # appliance's MAC is the profile's, the same in every lab).
    fixed = {n.mac for m in template.machines for n in m.all_nics} & {
        n.mac for m in own.machines for n in m.all_nics
    }
    assert {n.mac for m in own.machines for n in m.all_nics} - fixed
    assert {n.mac for m in own.machines for n in m.all_nics}.isdisjoint(
        {n.mac for m in clone.machines for n in m.all_nics} - fixed
    )


def test_a_template_of_other_machines_is_refused(tmp_path: Path) -> None:
    pair = load_profile(PROFILES / "pair.yaml")
    tiny = plan_lab(load_profile(PROFILES / "tiny.yaml"), "a1", "hl-", tmp_path, SUBNET_A)
    with pytest.raises(InvalidError) as raised:
        clone_plan(tiny, pair, "b2", "hl-", tmp_path, SUBNET_B)
    assert "m1" in raised.value.message
    assert raised.value.hint


def test_a_template_with_machines_in_another_order_is_refused(tmp_path: Path) -> None:
    spec, template, _ = _plans("pair.yaml", tmp_path)
    swapped = template.model_copy(update={"machines": template.machines[::-1]})
    with pytest.raises(InvalidError):
        clone_plan(swapped, spec, "b2", "hl-", tmp_path, SUBNET_B)


@pytest.mark.parametrize("profile", ["pair.yaml", "own-machines.yaml"])
def test_domain_paths_map_each_host_file_of_a_machine(profile: str, tmp_path: Path) -> None:
    _, template, clone = _plans(profile, tmp_path)
    for theirs, mine in zip(template.machines, clone.machines, strict=True):
        expected = {str(theirs.console_log): str(mine.console_log)}
        expected |= {
            str(old): str(new)
            for (_, old), (_, new) in zip(theirs.layers, mine.layers, strict=True)
        }
        if theirs.seed is not None:
            expected[str(theirs.seed)] = str(mine.seed)
        if theirs.nvram is not None:
            expected[str(theirs.nvram)] = str(mine.nvram)
        paths = domain_paths(theirs, mine)
        assert paths == expected
        assert all("/a1/" in old and "/b2/" in new for old, new in paths.items())
        assert len(set(paths.values())) == len(paths)
    if profile == "own-machines.yaml":  # an appliance's NVRAM is the lab's own too
        assert any(m.nvram is not None for m in template.machines)


def test_network_names_map_every_libvirt_network(tmp_path: Path) -> None:
    _, template, clone = _plans("pair.yaml", tmp_path)
    assert network_names(template, clone) == {
        "hl-a1.net": "hl-b2.net",
        "hl-a1._mgmt": "hl-b2._mgmt",
    }
