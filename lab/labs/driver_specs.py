"""A lab plan's machines and networks as the driver's specs (pure).

The one place that decides how a profile's machine looks to libvirt: disks
(overlay, then the cloud-init seed as a read-only virtio disk, which the cloud kernel sees), the
boot method the image recorded, the accelerator, and the metadata that lets
libvirt itself say which lab a domain belongs to.
"""

from __future__ import annotations

from typing import Any

from lab.driver.specs import (
    DiskBus,
    DiskFormat,
    DiskSpec,
    DnsMode,
    DomainSpec,
    FilterRef,
    KernelBoot,
    MachineType,
    NetworkSpec,
    NicModel,
    NicSpec,
    UefiFirmware,
    VideoModel,
    disk_target,
)
from lab.errors import InvalidError
from lab.host.facts import AccelChoice, Ovmf
from lab.host.images import server_files
from lab.images import Image, ImageStore
from lab.images.model import Boot
from lab.labs.plan import LabPlan, MachinePlan, NetworkPlan, NicPlan
from lab.settings import NicFilter


def network_spec(network: NetworkPlan) -> NetworkSpec:
    """An isolated network: no forwarding, STP off, no DHCP (guests are configured
    statically from their seed), and a host address only on the management network."""
    return NetworkSpec(
        name=network.libvirt_name,
        bridge=network.bridge,
        host_address=network.host_address,
        isolated=True,
        stp=False,
        dns=DnsMode.DISABLED,
    )


def domain_spec(
    plan: LabPlan,
    machine: MachinePlan,
    image: Image,
    images: ImageStore,
    accel: AccelChoice,
    nic_filter: NicFilter = NicFilter.LAB,
    ovmf: Ovmf | None = None,
) -> DomainSpec:
    """The machine's domain; `ovmf` (the host's UEFI firmware) is needed by UEFI appliances."""
    if machine.appliance is not None:
        return appliance_spec(plan, machine, image, accel, nic_filter, ovmf)
    assert machine.seed is not None and machine.management is not None  # managed
    boot = None
    if image.boot is Boot.KERNEL:
        kernel, initrd = images.kernel_path(image), images.initrd_path(image)
        if plan.remote:  # the copies in the server's pool, beside the machine's overlay
            _, kernel_name, initrd_name = server_files(image)
            assert kernel_name is not None and initrd_name is not None
            kernel, initrd = (machine.overlay.parent / n for n in (kernel_name, initrd_name))
        boot = KernelBoot(
            kernel=kernel,
            initrd=initrd,
            cmdline=" ".join(a for a in (image.cmdline, *accel.kernel_args) if a),
        )
    return DomainSpec(
        **_identity(plan, machine, image, accel, "machine"),
        disks=(
            DiskSpec(path=machine.overlay, format=DiskFormat.QCOW2, target="vda"),
            DiskSpec(path=machine.seed, format=DiskFormat.RAW, target="vdb", readonly=True),
        ),
        # The profile's NICs carry the anti-spoofing filter. The management NIC does not:
        # each filtered NIC costs ~0.5 s of ebtables work on every reset, and on the
        # management network a guest can reach nothing (the host drops what guests start,
        # playbooks/files/hromada-lab-guests.nft; other labs have their own) but its own
        # lab's machines, whose pinned SSH host keys unmask any impersonator.
        nics=(
            *(nic_spec(nic, nic_filter) for nic in machine.nics),
            nic_spec(machine.management, NicFilter.NONE),
        ),
        boot=boot,
        guest_agent=True,
        graphics=machine.graphics,
    )


def appliance_spec(
    plan: LabPlan,
    machine: MachinePlan,
    image: Image,
    accel: AccelChoice,
    nic_filter: NicFilter = NicFilter.LAB,
    ovmf: Ovmf | None = None,
) -> DomainSpec:
    """A machine run as it was installed: its own bootloader and firmware, the disk bus
    and NIC model it has drivers for, its own MACs and addresses, a display; no seed, no
    management NIC, and no virtio device it did not ask for."""
    appliance = machine.appliance
    assert appliance is not None
    uefi = None
    if machine.nvram is not None:
        if ovmf is None:
            raise InvalidError(
                f"appliance '{machine.name}' boots with UEFI, and no OVMF firmware was given",
                hint="lab.host.facts.find_ovmf() finds the host's",
            )
        uefi = UefiFirmware(loader=ovmf.code, template=ovmf.vars_template, nvram=machine.nvram)
    bus = DiskBus(appliance.disk_bus.value)
    model = NicModel(appliance.nic_model.value)
    return DomainSpec(
        **_identity(plan, machine, image, accel, "appliance"),
        machine=MachineType(appliance.machine_type.value),
        uefi=uefi,
        disks=tuple(
            DiskSpec(path=overlay, format=DiskFormat.QCOW2, bus=bus, target=disk_target(bus, i))
            for i, (_, overlay) in enumerate(machine.layers)
        ),
        nics=tuple(nic_spec(nic, nic_filter, model) for nic in machine.nics),
        boot=None,
        guest_agent=appliance.guest_agent,
        graphics=True,
        video=VideoModel(appliance.video.value),
        tablet=appliance.tablet,
        # virtio-rng only for a guest that has virtio drivers anyway (Windows without them
        # would show an unknown device).
        rng=bus is DiskBus.VIRTIO or model is NicModel.VIRTIO,
    )


def _identity(
    plan: LabPlan, machine: MachinePlan, image: Image, accel: AccelChoice, kind: str
) -> dict[str, Any]:
    """What every domain of a lab carries: its names, size, accelerator, console log and
    the metadata that lets libvirt itself say which lab and machine it is."""
    return {
        "name": machine.domain,
        "title": f"{plan.lab}: {machine.name}",
        "description": f"Hromada Lab '{plan.lab}' (profile {plan.profile}), {kind} {machine.name}",
        "vcpus": machine.vcpus,
        "memory_mib": machine.memory_mib,
        "virt_type": accel.virt_type,
        "cpu": accel.cpu,
        "tb_cache_mib": accel.tb_cache_mib,
        "serial_log": machine.console_log,
        "metadata": {
            "lab": plan.lab,
            "machine": machine.name,
            "profile": plan.profile,
            "image": image.name,
            "image-digest": image.digest,
        },
    }


def nic_spec(nic: NicPlan, nic_filter: NicFilter, model: NicModel = NicModel.VIRTIO) -> NicSpec:
    """A NIC on its lab network. With a filter the guest may send only from its own MAC
    and the address the plan gave it (every NIC has one: addressing is static)."""
    ref = None
    if nic_filter is not NicFilter.NONE:
        ref = FilterRef(name=nic_filter.value, parameters={"IP": str(nic.address)})
    return NicSpec(network=nic.libvirt_network, mac=nic.mac, filterref=ref, model=model)
