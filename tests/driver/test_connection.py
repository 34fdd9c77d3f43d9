"""The libvirt driver against `test:///default`: lifecycle, metadata, networks, errors."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from lab.driver import (
    CpuMode,
    DhcpHost,
    DiskBus,
    DiskSpec,
    DomainSpec,
    KernelBoot,
    MachineType,
    NetworkSpec,
    NicModel,
    NicSpec,
    UefiFirmware,
    VideoModel,
    VirtType,
    domain_xml,
    network_xml,
)
from lab.driver.connection import DomainState, Driver
from lab.errors import ConflictError, DriverError, HostError, NotFoundError
from lab.labs import lifecycle, naming
from lab.settings import NicFilter

pytestmark = pytest.mark.driver


def spec(name: str) -> DomainSpec:
    return DomainSpec(
        name=name,
        title="driver test & <friends>",
        virt_type=VirtType.QEMU,
        cpu=CpuMode.NEHALEM,
        disks=(DiskSpec(path=Path("/nonexistent/disk.qcow2"), target="vda"),),
        nics=(NicSpec(network="default", mac="52:54:00:00:00:01"),),
        boot=KernelBoot(kernel=Path("/nonexistent/vmlinuz"), cmdline="console=ttyS0"),
        serial_log=Path("/nonexistent/console.log"),
        metadata={"lab": "drv", "machine": name, "profile": "p & <q>"},
    )


@pytest.fixture
def domain(driver: Driver, unique: str) -> Iterator[str]:
    name = driver.define_domain(domain_xml(spec(f"hl-test-{unique}")))
    yield name
    if driver.domain_exists(name):
        if driver.domain_state(name) is not DomainState.SHUTOFF:
            driver.destroy_domain(name)
        driver.undefine_domain(name)


def test_versions(driver: Driver) -> None:
    versions = driver.versions()
    assert versions.hypervisor_type == "TEST"
    assert versions.libvirt.count(".") == 2


def test_node_capacity(driver: Driver) -> None:
    capacity = driver.node_capacity()
    assert capacity.cpus > 0
    assert 0 < capacity.memory_available_bytes <= capacity.memory_total_bytes
    assert capacity.kvm is False  # the test driver offers "test" domains only


def test_a_dir_pool_is_made_once_and_reports_its_room(driver: Driver, unique: str) -> None:
    name = f"hl-test-pool-{unique}"
    assert driver.pool_space(name) is None
    made = driver.ensure_dir_pool(name, f"/tmp/hl-test-pool-{unique}")
    try:
        assert made.name == name and made.path == f"/tmp/hl-test-pool-{unique}"
        assert 0 < made.available_bytes <= made.capacity_bytes
        again = driver.ensure_dir_pool(name, "/elsewhere")  # kept where it is
        assert again.path == made.path
        assert driver.pool_space(name) == again
    finally:
        driver.forget_pool(name)
    assert driver.pool_space(name) is None


def test_domain_lifecycle(driver: Driver, domain: str, unique: str) -> None:
    assert driver.domain_exists(domain)
    assert driver.list_domains(f"hl-test-{unique}") == [domain]
    assert driver.domain_state(domain) is DomainState.SHUTOFF
    driver.start_domain(domain)
    assert driver.domain_state(domain) is DomainState.RUNNING
    driver.shutdown_domain(domain)
    assert driver.domain_state(domain) is DomainState.SHUTOFF
    driver.start_domain(domain)
    driver.destroy_domain(domain)
    assert driver.domain_state(domain) is DomainState.SHUTOFF
    driver.undefine_domain(domain)
    assert not driver.domain_exists(domain)
    assert domain not in driver.list_domains("hl-test-")


def test_metadata_round_trip(driver: Driver, domain: str) -> None:
    expected = {"lab": "drv", "machine": domain, "profile": "p & <q>"}
    assert driver.domain_metadata(domain) == expected
    assert "driver test &amp; &lt;friends&gt;" in driver.domain_xml(domain)


def test_domain_without_metadata(driver: Driver, unique: str) -> None:
    name = driver.define_domain(
        domain_xml(spec(f"hl-test-{unique}").model_copy(update={"metadata": {}}))
    )
    try:
        assert driver.domain_metadata(name) == {}
    finally:
        driver.undefine_domain(name)


def test_uefi_appliance_lifecycle(driver: Driver, unique: str) -> None:
    # The test driver refuses the flag that removes a UEFI variables file (it keeps none):
    # undefine must still forget the domain.
    appliance = spec(f"hl-test-{unique}").model_copy(
        update={
            "boot": None,
            "machine": MachineType.Q35,
            "uefi": UefiFirmware(
                loader=Path("/nonexistent/OVMF_CODE_4M.fd"),
                template=Path("/nonexistent/OVMF_VARS_4M.fd"),
                nvram=Path("/nonexistent/appliance_VARS.fd"),
            ),
            "disks": (DiskSpec(path=Path("/nonexistent/a.qcow2"), target="sda", bus=DiskBus.SATA),),
            "nics": (NicSpec(network="default", mac="52:54:00:00:00:02", model=NicModel.E1000E),),
            "graphics": True,
            "video": VideoModel.QXL,
            "tablet": True,
        }
    )
    name = driver.define_domain(domain_xml(DomainSpec.model_validate(appliance.model_dump())))
    assert "appliance_VARS.fd" in driver.domain_xml(name, inactive=True)
    assert driver.domain_metadata(name)["machine"] == name
    driver.start_domain(name)
    driver.destroy_domain(name)
    driver.undefine_domain(name)
    assert not driver.domain_exists(name)


def test_save_and_restore(driver: Driver, domain: str, tmp_path: Path) -> None:
    driver.start_domain(domain)
    state = tmp_path / "memory.save"
    driver.save_domain(domain, state)
    assert driver.domain_state(domain) is DomainState.SHUTOFF
    driver.restore_domain(state, domain)
    assert driver.domain_state(domain) is DomainState.RUNNING


def test_unknown_domain_is_not_found_with_hint(driver: Driver) -> None:
    with pytest.raises(NotFoundError) as caught:
        driver.start_domain("hl-test-no-such-domain")
    assert "hl-test-no-such-domain" in caught.value.message
    assert "virsh" in caught.value.hint
    assert not driver.domain_exists("hl-test-no-such-domain")


def test_wrong_state_is_a_conflict(driver: Driver, domain: str) -> None:
    with pytest.raises(ConflictError) as caught:
        driver.destroy_domain(domain)  # it is not running
    assert "not running" in caught.value.message


def test_invalid_xml_is_refused(driver: Driver) -> None:
    with pytest.raises(DriverError):
        driver.define_domain("<domain type='qemu'><name>hl-test-bad</name></domain>")
    assert not driver.domain_exists("hl-test-bad")


def test_agent_ping_unsupported_by_test_driver(driver: Driver, domain: str) -> None:
    driver.start_domain(domain)
    with pytest.raises(DriverError) as caught:
        driver.qemu_agent_ping(domain, timeout=1)
    assert "guest agent" in caught.value.message


def test_network_lifecycle(driver: Driver, unique: str) -> None:
    name = f"hl-test-{unique}"
    spec = NetworkSpec(
        name=name,
        bridge=naming.bridge_name(unique),
        host_address=IPv4Interface("10.77.0.1/24"),
        dhcp_hosts=(
            DhcpHost(mac="52:54:00:00:00:09", ip=IPv4Address("10.77.0.9"), hostname="web1"),
        ),
    )
    assert driver.define_network(network_xml(spec)) == name
    try:
        assert driver.network_exists(name)
        assert driver.list_networks("hl-test-") == sorted(
            n for n in driver.list_networks() if n.startswith("hl-test-")
        )
        assert not driver.network_active(name)
        driver.start_network(name)
        assert driver.network_active(name)
        with pytest.raises(ConflictError):
            driver.start_network(name)
        driver.destroy_network(name)
        assert not driver.network_active(name)
    finally:
        driver.undefine_network(name)
    assert not driver.network_exists(name)
    with pytest.raises(NotFoundError):
        driver.undefine_network(name)


def test_dhcp_leases_unsupported_by_test_driver(driver: Driver) -> None:
    with pytest.raises(DriverError):
        driver.dhcp_leases("default")


def test_bad_uri_is_a_driver_error_with_hint() -> None:
    with pytest.raises(DriverError) as caught:
        Driver.open("qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    assert "cannot connect" in caught.value.message
    assert "scripts/labns up" in caught.value.hint
    assert "LAB_LIBVIRT_URI" in caught.value.hint


def test_test_driver_has_no_network_filters(driver: Driver) -> None:
    assert driver.nwfilter_exists("clean-traffic") is False


def test_up_refuses_a_nic_filter_libvirt_lacks_and_says_how_to_go_on(driver: Driver) -> None:
    with pytest.raises(HostError) as info:
        lifecycle.check_nic_filter(driver, NicFilter.CLEAN_TRAFFIC)
    assert "clean-traffic" in info.value.message
    assert "LAB_NIC_FILTER=none" in info.value.hint
    lifecycle.check_nic_filter(driver, NicFilter.NONE)  # nothing to check


def test_our_nic_filter_needs_the_nwfilter_driver_and_says_so(driver: Driver) -> None:
    with pytest.raises(DriverError) as info:
        lifecycle.check_nic_filter(driver, NicFilter.LAB)
    assert "LAB_NIC_FILTER=none" in info.value.hint


def test_wait_state_answers_at_once_or_gives_up_at_the_deadline(
    driver: Driver, domain: str
) -> None:
    driver.start_domain(domain)
    assert driver.wait_state(domain, {DomainState.RUNNING}, seconds=5)
    assert not driver.wait_state(domain, {DomainState.SHUTOFF}, seconds=0.6)


def test_a_network_gone_between_listing_and_reading_uses_no_subnet(
    driver: Driver, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another lab may take its network down while this one picks its subnets."""
    name = f"hl-test-{unique}"
    spec = NetworkSpec(
        name=name,
        bridge=naming.bridge_name(unique),
        host_address=IPv4Interface("10.78.0.1/24"),
        dhcp_hosts=(),
    )
    driver.define_network(network_xml(spec))
    listed = driver._conn.listAllNetworks(0)
    driver.undefine_network(name)
    monkeypatch.setattr(driver._conn, "listAllNetworks", lambda _flags: listed)
    assert IPv4Interface("10.78.0.1/24").network not in driver.network_subnets()
