"""Hostile values cannot alter generated libvirt XML (bad input).

For every value that reaches domain or network XML, a property: either the spec refuses
the value (pydantic's ValidationError, which the plan never meets: its values are
validated names and paths), or the XML parses back with exactly that value in exactly
the intended attribute or text, and the document has the same shape (elements and
attribute names) as one built from harmless values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from lab.driver import (
    CpuMode,
    DiskFormat,
    DiskSpec,
    DomainSpec,
    FilterRef,
    KernelBoot,
    NicSpec,
    VirtType,
    domain_xml,
    parse_metadata,
)
from lab.driver.filter_bindings import FILTERS_NS
from lab.driver.network_xml import network_xml
from lab.driver.specs import METADATA_NS, DhcpHost, NetworkSpec
from tests.hostile import BOUNDED, Trials, hostile_text
from tests.reliability import record

pytestmark = pytest.mark.reliability

Shape = list[tuple[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Field:
    """Where one spec value goes (a key path into the spec's data, and a type for it) and
    how to read it back from the parsed XML."""

    name: str
    path: tuple[str | int, ...]
    read: Callable[[ET.Element], str | None]
    cast: Callable[[str], Any] = str

    def put(self, data: dict[str, Any], value: str) -> None:
        target: Any = data
        for key in self.path[:-1]:
            target = target[key]
        target[self.path[-1]] = self.cast(value)

    def expected(self, value: str) -> str:
        return str(self.cast(value))


def _domain_data() -> dict[str, Any]:
    return {
        "name": "hl-demo.web1",
        "title": "demo: web1",
        "description": "Hromada Lab 'demo'",
        "virt_type": VirtType.QEMU,
        "cpu": CpuMode.NEHALEM,
        "disks": [
            {"path": Path("/srv/labs/demo/disks/web1.qcow2"), "target": "vda"},
            {
                "path": Path("/srv/labs/demo/disks/web1-seed.iso"),
                "format": DiskFormat.RAW,
                "target": "vdb",
                "readonly": True,
            },
        ],
        "nics": [
            {
                "network": "hl-demo.lan",
                "mac": "52:54:00:12:34:56",
                "filterref": {"name": "clean-traffic", "parameters": {"IP": "10.10.0.11"}},
            }
        ],
        "boot": {"kernel": Path("/srv/vmlinuz"), "initrd": Path("/srv/initrd"), "cmdline": "ro"},
        "serial_log": Path("/srv/labs/demo/console/web1.log"),
        "graphics": True,
        "metadata": {"lab": "demo", "machine": "web1", "profile": "tiny", "image": "debian-12"},
    }


def _text(xpath: str) -> Callable[[ET.Element], str | None]:
    def read(root: ET.Element) -> str | None:
        element = root.find(xpath)
        return None if element is None else element.text or ""

    return read


def _attr(xpath: str, attribute: str) -> Callable[[ET.Element], str | None]:
    return lambda root: _found(root.find(xpath)).get(attribute)


def _found(element: ET.Element | None) -> ET.Element:
    assert element is not None
    return element


_META = f"metadata/{{{METADATA_NS}}}lab/{{{METADATA_NS}}}"
_FILTERS = f"metadata/{{{FILTERS_NS}}}filters/{{{FILTERS_NS}}}"

DOMAIN_FIELDS = (
    Field("name", ("name",), _text("name")),
    Field("title", ("title",), _text("title")),
    Field("description", ("description",), _text("description")),
    Field("metadata lab", ("metadata", "lab"), _text(_META + "lab")),
    Field("metadata profile", ("metadata", "profile"), _text(_META + "profile")),
    Field(
        "disk path",
        (
            "disks",
            0,
            "path",
        ),
        _attr("devices/disk/source", "file"),
        Path,
    ),
    Field(
        "seed path",
        ("disks", 1, "path"),
        lambda root: root.findall("devices/disk/source")[1].get("file"),
        Path,
    ),
    Field(
        "kernel",
        (
            "boot",
            "kernel",
        ),
        _text("os/kernel"),
        Path,
    ),
    Field(
        "initrd",
        (
            "boot",
            "initrd",
        ),
        _text("os/initrd"),
        Path,
    ),
    Field("cmdline", ("boot", "cmdline"), _text("os/cmdline")),
    Field("console log", ("serial_log",), _attr("devices/serial/log", "file"), Path),
    Field("network", ("nics", 0, "network"), _attr("devices/interface/source", "network")),
    Field("mac", ("nics", 0, "mac"), _attr("devices/interface/mac", "address")),
    Field("filter", ("nics", 0, "filterref", "name"), _attr(f"{_FILTERS}nic", "filter")),
    Field(
        "filter parameter",
        ("nics", 0, "filterref", "parameters", "IP"),
        _attr(f"{_FILTERS}nic/{{{FILTERS_NS}}}parameter", "value"),
    ),
)


def _appliance_data() -> dict[str, Any]:
    """An imported machine: UEFI on q35 (so no kernel boot), SATA and SCSI disks."""
    data = _domain_data()
    del data["boot"]
    data["machine"] = "q35"
    data["uefi"] = {
        "loader": Path("/usr/share/OVMF/OVMF_CODE_4M.fd"),
        "template": Path("/usr/share/OVMF/OVMF_VARS_4M.fd"),
        "nvram": Path("/srv/labs/demo/nvram/web1_VARS.fd"),
    }
    data["disks"] = [
        {"path": Path("/srv/labs/demo/disks/web1.qcow2"), "target": "sda", "bus": "sata"},
        {"path": Path("/srv/labs/demo/disks/data.qcow2"), "target": "sdb", "bus": "scsi"},
    ]
    data["nics"][0]["model"] = "e1000e"
    data["tablet"] = True
    return data


APPLIANCE_FIELDS = (
    Field("loader", ("uefi", "loader"), _text("os/loader"), Path),
    Field("nvram template", ("uefi", "template"), _attr("os/nvram", "template"), Path),
    Field("nvram", ("uefi", "nvram"), _text("os/nvram"), Path),
    Field(
        "scsi disk path",
        ("disks", 1, "path"),
        lambda root: root.findall("devices/disk/source")[1].get("file"),
        Path,
    ),
)


def _network_data() -> dict[str, Any]:
    return {
        "name": "hl-demo._mgmt",
        "bridge": "hlb-demo",
        "host_address": IPv4Interface("10.250.3.1/24"),
        "dhcp_hosts": [
            {"mac": "52:54:00:aa:bb:cc", "ip": IPv4Address("10.250.3.10"), "hostname": "web1"}
        ],
        "dns_domain": "lab",
    }


NETWORK_FIELDS = (
    Field("network name", ("name",), _text("name")),
    Field("bridge", ("bridge",), _attr("bridge", "name")),
    Field("dns domain", ("dns_domain",), _attr("domain", "name")),
    Field("dhcp hostname", ("dhcp_hosts", 0, "hostname"), _attr("ip/dhcp/host", "name")),
    Field("dhcp mac", ("dhcp_hosts", 0, "mac"), _attr("ip/dhcp/host", "mac")),
)


def shape(root: ET.Element) -> Shape:
    """Every element's tag and attribute names, in document order: the structure alone."""
    return [(el.tag, tuple(sorted(el.attrib))) for el in root.iter()]


def _check(
    build: Callable[[Any], str],
    make: Callable[[dict[str, Any]], Any],
    base: Callable[[], dict[str, Any]],
    field: Field,
    value: str,
) -> bool:
    """True when the value was accepted (and proven to land where it should)."""
    data = base()
    field.put(data, value)
    try:
        spec = make(data)
    except ValidationError:
        return False
    root = ET.fromstring(build(spec))  # it parses: nothing broke the document
    if field.expected(value) == "":  # an empty title is left out, an empty text stays empty
        assert field.read(root) in (None, ""), field.name
        return True
    assert field.read(root) == field.expected(value), field.name
    assert shape(root) == shape(ET.fromstring(build(make(base())))), field.name
    return True


FIELD_STRATEGY = st.one_of(hostile_text(), st.from_regex(r"\A[a-z0-9][a-z0-9.-]{0,20}\Z"))

_DOMAIN_TRIALS = Trials()
_NETWORK_TRIALS = Trials()


@pytest.fixture(scope="module", autouse=True)
def _record_trials() -> Iterator[None]:
    yield
    record("input", "domain XML values", _DOMAIN_TRIALS.count, _DOMAIN_TRIALS.lost)
    record("input", "network XML values", _NETWORK_TRIALS.count, _NETWORK_TRIALS.lost)


@BOUNDED
@given(field=st.sampled_from(DOMAIN_FIELDS), value=FIELD_STRATEGY)
def test_domain_xml_values_land_where_intended(field: Field, value: str) -> None:
    _DOMAIN_TRIALS.tick()
    accepted = _check(domain_xml, DomainSpec.model_validate, _domain_data, field, value)
    if accepted and field.name.startswith("metadata"):
        key = field.name.split()[1]
        data = _domain_data()
        field.put(data, value)
        assert parse_metadata(domain_xml(DomainSpec.model_validate(data)))[key] == value


@BOUNDED
@given(field=st.sampled_from(APPLIANCE_FIELDS), value=FIELD_STRATEGY)
def test_appliance_xml_values_land_where_intended(field: Field, value: str) -> None:
    _DOMAIN_TRIALS.tick()
    _check(domain_xml, DomainSpec.model_validate, _appliance_data, field, value)


@BOUNDED
@given(field=st.sampled_from(NETWORK_FIELDS), value=FIELD_STRATEGY)
def test_network_xml_values_land_where_intended(field: Field, value: str) -> None:
    _NETWORK_TRIALS.tick()
    _check(network_xml, NetworkSpec.model_validate, _network_data, field, value)


def test_control_characters_in_paths_and_text_are_refused() -> None:
    """Found by the properties above: a carriage return came back from the parser as a
    line feed, and a line break in a path attribute as a space (a changed value)."""
    for field, value in (
        (DOMAIN_FIELDS[5], "/srv/a\nb.qcow2"),
        (DOMAIN_FIELDS[2], "line one\rline two"),
        (DOMAIN_FIELDS[9], "console=ttyS0\r"),
    ):
        data = _domain_data()
        field.put(data, value)
        with pytest.raises(ValidationError):
            DomainSpec.model_validate(data)
    with pytest.raises(ValidationError):
        DhcpHost(mac="52:54:00:aa:bb:cc", ip=IPv4Address("10.0.0.2"), hostname="web1\n")
    assert FilterRef(name="clean-traffic", parameters={"IP": "a\nb"})  # text, escaped
    assert NicSpec(network="n", mac="52:54:00:00:00:01")
    assert KernelBoot(kernel=Path("/k"))
    assert DiskSpec(path=Path("/d"), target="vda")
    data = _appliance_data()
    APPLIANCE_FIELDS[2].put(data, "/srv/web1\n_VARS.fd")
    with pytest.raises(ValidationError):
        DomainSpec.model_validate(data)


@pytest.mark.parametrize(
    ("key", "value"),
    [("machine", "q35'/><evil"), ("video", 'vga"/><evil'), ("tablet", "<input/>")],
)
def test_hardware_choices_are_closed(key: str, value: str) -> None:
    data = _appliance_data()
    data[key] = value
    with pytest.raises(ValidationError):
        DomainSpec.model_validate(data)
    for disk_or_nic, field in (("disks", "bus"), ("disks", "target"), ("nics", "model")):
        data = _appliance_data()
        data[disk_or_nic][0][field] = value
        with pytest.raises(ValidationError):
            DomainSpec.model_validate(data)
