"""The libvirt seam: pure XML builders and their specs here, the connection beside them.

Only `lab.driver.connection` imports libvirt; import `Driver` from there, so that pure
code (profiles, unit tests) can use the specs and builders without libvirt installed.
"""

from lab.driver.domain_xml import domain_xml, has_nvram, parse_metadata
from lab.driver.network_xml import network_xml
from lab.driver.nwfilter_xml import NIC_FILTER, nic_filter_xml
from lab.driver.specs import (
    CpuMode,
    DhcpHost,
    DhcpRange,
    DiskBus,
    DiskFormat,
    DiskSpec,
    DnsMode,
    DomainSpec,
    FilterRef,
    Firmware,
    KernelBoot,
    MachineType,
    NetworkSpec,
    NicModel,
    NicSpec,
    UefiFirmware,
    VideoModel,
    VirtType,
    disk_target,
)

__all__ = [
    "NIC_FILTER",
    "CpuMode",
    "DhcpHost",
    "DhcpRange",
    "DiskBus",
    "DiskFormat",
    "DiskSpec",
    "DnsMode",
    "DomainSpec",
    "FilterRef",
    "Firmware",
    "KernelBoot",
    "MachineType",
    "NetworkSpec",
    "NicModel",
    "NicSpec",
    "UefiFirmware",
    "VideoModel",
    "VirtType",
    "disk_target",
    "domain_xml",
    "has_nvram",
    "network_xml",
    "nic_filter_xml",
    "parse_metadata",
]
