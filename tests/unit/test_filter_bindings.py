"""A lab NIC's filter as a binding on a fixed tap name: the domain XML says which NICs are
filtered and names their taps; the binding document libvirt takes; a clone's own taps."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from lab.commands import run
from lab.driver import DomainSpec, FilterRef, NicSpec, VirtType, domain_xml
from lab.driver.domain_xml import clone_domain_xml
from lab.driver.filter_bindings import (
    FilterBinding,
    binding_xml,
    bindings_of,
    matches,
    tap_name,
)
from lab.driver.specs import CpuMode

LAB_MAC = "52:54:00:75:79:6f"
MGMT_MAC = "52:54:00:a9:4e:aa"


def spec(name: str = "hlx-x1.m1", ip: str = "10.77.0.10") -> DomainSpec:
    return DomainSpec(
        name=name,
        uuid="5b6f9e8f-591e-485c-8dee-169758f149a3",
        virt_type=VirtType.QEMU,
        cpu=CpuMode.NEHALEM,
        nics=(
            NicSpec(
                network="hlx-x1.net",
                mac=LAB_MAC,
                filterref=FilterRef(name="hromada-lab-nic", parameters={"IP": ip}),
            ),
            NicSpec(network="hlx-x1._mgmt", mac=MGMT_MAC),  # the management NIC: unfiltered
        ),
    )


def test_a_filtered_nic_has_a_fixed_tap_and_its_filter_in_the_metadata() -> None:
    xml = domain_xml(spec())
    root = ET.fromstring(xml)
    assert root.find("devices/interface/filterref") is None  # no filter libvirt rebuilds
    taps = {
        nic.find("mac").get("address"): nic.find("target")  # type: ignore[union-attr]
        for nic in root.iter("interface")
    }
    assert taps[MGMT_MAC] is None  # libvirt names it
    lab_tap = taps[LAB_MAC]
    assert lab_tap is not None and lab_tap.get("dev") == tap_name("hlx-x1.m1", LAB_MAC)
    assert bindings_of(xml) == (
        FilterBinding(
            portdev=tap_name("hlx-x1.m1", LAB_MAC),
            mac=LAB_MAC,
            filter="hromada-lab-nic",
            parameters={"IP": "10.77.0.10"},
            owner="hlx-x1.m1",
            owner_uuid="5b6f9e8f-591e-485c-8dee-169758f149a3",
        ),
    )


def test_tap_names_fit_the_kernel_and_differ_per_machine_and_nic() -> None:
    names = {
        tap_name(f"hlx-lab{n}.m{m}", mac)
        for n in range(50)
        for m in range(4)
        for mac in (LAB_MAC, MGMT_MAC)
    }
    assert len(names) == 400
    assert all(len(n) <= 15 and n.startswith("hl") and not n.startswith("vnet") for n in names)
    assert tap_name("hlx-x1.m1", LAB_MAC.upper()) == tap_name("hlx-x1.m1", LAB_MAC)


def test_a_filtered_nic_without_a_tap_name_is_refused() -> None:
    root = ET.fromstring(domain_xml(spec()))
    for nic in root.iter("interface"):
        for target in nic.findall("target"):
            nic.remove(target)
    with pytest.raises(ValueError, match="has no tap name"):
        bindings_of(ET.tostring(root, encoding="unicode"))


def test_a_clone_gets_taps_named_for_it_and_keeps_its_filters() -> None:
    # What libvirt saved of the template's machine, with what it adds at run time.
    saved = domain_xml(spec()).replace(
        '<source network="hlx-x1._mgmt" />',
        '<source network="hlx-x1._mgmt" bridge="hlx-x1-mgmt" /><target dev="vnet8" />',
    )
    clone = clone_domain_xml(
        saved,
        name="hlx-b2.m1",
        uuid="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        title="b2: m1",
        description="",
        lab="b2",
        paths={},
        networks={"hlx-x1.net": "hlx-b2.net", "hlx-x1._mgmt": "hlx-b2._mgmt"},
    )
    (binding,) = bindings_of(clone)
    assert binding.portdev == tap_name("hlx-b2.m1", LAB_MAC) != tap_name("hlx-x1.m1", LAB_MAC)
    assert (binding.owner, binding.parameters) == ("hlx-b2.m1", {"IP": "10.77.0.10"})
    mgmt = [
        n for n in ET.fromstring(clone).iter("interface") if MGMT_MAC in ET.tostring(n).decode()
    ]
    assert mgmt[0].find("target") is None  # a run-time name goes; libvirt gives a new one


def test_the_binding_document_is_libvirts_and_carries_hostile_values_as_data(
    tmp_path: Path,
) -> None:
    binding = FilterBinding(
        portdev="hl0123456789",
        mac=LAB_MAC,
        filter="hromada-lab-nic",
        parameters={"IP": "10.77.0.10'/><x a='"},
        owner="hlx-x1.m1",
        owner_uuid="5b6f9e8f-591e-485c-8dee-169758f149a3",
    )
    xml = binding_xml(binding)
    root = ET.fromstring(xml)
    assert root.find("filterref/parameter").get("value") == "10.77.0.10'/><x a='"  # type: ignore[union-attr]
    assert root.find("x") is None
    path = tmp_path / "binding.xml"
    path.write_text(binding_xml(replace(binding, parameters={"IP": "10.77.0.10"})))
    run(["virt-xml-validate", path, "nwfilterbinding"], hint="apt-get install libvirt-clients")


def test_a_held_binding_matches_only_the_same_owner_tap_mac_filter_and_address() -> None:
    wanted = bindings_of(domain_xml(spec()))[0]
    # What libvirt hands back: it adds the MAC variable to the parameters.
    held = binding_xml(replace(wanted, parameters={"IP": "10.77.0.10", "MAC": LAB_MAC}))
    assert matches(held, wanted)
    assert not matches(binding_xml(bindings_of(domain_xml(spec(ip="10.77.0.11")))[0]), wanted)
    other_owner = replace(wanted, owner_uuid="0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    assert not matches(binding_xml(other_owner), wanted)
    assert not matches("<filterbinding/>", wanted)
