"""What this host offers (facts, gathered with I/O) and which accelerator to use (pure).

`gather_facts()` reads /dev/kvm, /sys, /proc and the filesystem; `choose_accel()` only
looks at the facts it is given, so every branch is unit-tested with fabricated facts.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from lab.base import Frozen
from lab.driver.specs import CpuMode, VirtType
from lab.errors import HostError
from lab.settings import Accel, Settings, get_settings

# What the orchestrator runs on the host, and the Debian package that brings each.
REQUIRED_TOOLS: tuple[tuple[str, str], ...] = (
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("qemu-img", "qemu-utils"),
    ("mmdebstrap", "mmdebstrap"),
    ("genisoimage", "genisoimage"),
    ("mkfs.ext4", "e2fsprogs"),
    ("dnsmasq", "dnsmasq-base"),  # libvirt runs it for each network's DHCP and DNS
    ("ssh-keygen", "openssh-client"),
    ("virt-inspector", "libguestfs-tools"),  # lab image inspect: a disk read without booting
)

# One 512 MiB guest costs ~640 MB of QEMU resident memory under TCG (measured).
MIN_MEMORY_BYTES = 1 << 30
# A base image is ~0.5 GB, a memory baseline ~0.3 GB per guest: 5 GiB holds a small lab.
MIN_DISK_BYTES = 5 << 30

_KVM = Path("/dev/kvm")
_KVM_PVM = Path("/sys/module/kvm_pvm")


class ToolFact(Frozen):
    program: str
    package: str
    path: str | None  # None: not installed


class HostFacts(Frozen):
    """What `gather_facts` saw. Built by hand in tests."""

    kvm_exists: bool
    kvm_accessible: bool
    kvm_pvm: bool
    memory_available_bytes: int
    disk_path: Path  # LAB_HOME, or its nearest existing parent that was measured
    disk_free_bytes: int
    tools: tuple[ToolFact, ...] = ()

    @property
    def missing_tools(self) -> tuple[ToolFact, ...]:
        return tuple(t for t in self.tools if t.path is None)


class AccelChoice(Frozen):
    virt_type: VirtType
    cpu: CpuMode
    reason: str
    # Under TCG: the size of QEMU's translated-code cache (None: QEMU's own, 1 GiB).
    tb_cache_mib: int | None = None
    # Added to the kernel command line of the machines the lab boots itself (not of
    # appliances, which keep their own bootloader).
    kernel_args: tuple[str, ...] = ()


# Under TCG a guest kernel's CPU-vulnerability mitigations only cost: the emulated CPU
# (a named Intel model) makes the kernel isolate its page tables (PTI) and flush on every
# system call and switch, which QEMU emulates in software, while what they guard against
# needs the speculation of a real CPU running the guest's code. Measured on tiny guests
# side by side here: boot to verified-ready 59-70 vs 83-91 s of emulated CPU, a Python
# and dpkg workload 26-28 vs 38-39 s (docs/operating.md). Under KVM the guest runs on the
# real CPU and keeps the kernel's defaults.
TCG_KERNEL_ARGS = ("mitigations=off",)


_TCG_CPU = CpuMode.NEHALEM  # why: see CpuMode
# QEMU's own memory per guest besides the guest's memory and the code cache (device
# model, buffers), and the code cache QEMU takes when not told (1 GiB since QEMU 5.0).
QEMU_BASE_MIB = 128
QEMU_TB_CACHE_MIB = 1024


def qemu_overhead_mib(accel: AccelChoice) -> int:
    """What one guest's QEMU holds beyond the guest's memory, at most, under `accel`."""
    if accel.virt_type is VirtType.KVM:
        return QEMU_BASE_MIB
    return QEMU_BASE_MIB + (accel.tb_cache_mib or QEMU_TB_CACHE_MIB)


def choose_accel(requested: Accel, facts: HostFacts, tb_cache_mib: int = 0) -> AccelChoice:
    """KVM when asked for or usable (for `auto`), else TCG; always with the reason.
    `tb_cache_mib` (LAB_TCG_CACHE): TCG's code cache; 0: QEMU's own size."""

    def tcg(reason: str) -> AccelChoice:
        cache = tb_cache_mib or None
        return AccelChoice(
            virt_type=VirtType.QEMU,
            cpu=_TCG_CPU,
            reason=reason,
            tb_cache_mib=cache,
            kernel_args=TCG_KERNEL_ARGS,
        )

    if requested is Accel.TCG:
        return tcg("LAB_ACCEL=tcg")
    obstacle = kvm_obstacle(facts)
    if obstacle is None:
        why = "LAB_ACCEL=kvm" if requested is Accel.KVM else "/dev/kvm is usable"
        return AccelChoice(virt_type=VirtType.KVM, cpu=CpuMode.HOST_PASSTHROUGH, reason=why)
    if requested is Accel.KVM:
        raise HostError(
            f"LAB_ACCEL=kvm, but KVM cannot be used here: {obstacle}",
            hint="set LAB_ACCEL=auto (or tcg) to run guests under software emulation",
        )
    return tcg(f"{obstacle}, so TCG")


def choose_server_accel(
    requested: Accel, host: str, kvm: bool, tb_cache_mib: int = 0
) -> AccelChoice:
    """Like `choose_accel` for another server, from whether its libvirtd offers KVM."""
    if requested is Accel.TCG or (requested is Accel.AUTO and not kvm):
        why = "LAB_ACCEL=tcg" if requested is Accel.TCG else f"libvirt on {host} offers no KVM"
        return AccelChoice(
            virt_type=VirtType.QEMU,
            cpu=_TCG_CPU,
            reason=why,
            tb_cache_mib=tb_cache_mib or None,
            kernel_args=TCG_KERNEL_ARGS,
        )
    if not kvm:
        raise HostError(
            f"LAB_ACCEL=kvm, but libvirt on host {host} offers no KVM",
            hint="set LAB_ACCEL=auto (or tcg) to run guests there under software emulation",
        )
    why = "LAB_ACCEL=kvm" if requested is Accel.KVM else f"libvirt on {host} offers KVM"
    return AccelChoice(virt_type=VirtType.KVM, cpu=CpuMode.HOST_PASSTHROUGH, reason=why)


def host_accel(settings: Settings, facts: HostFacts | None = None) -> AccelChoice:
    """The accelerator guests get on this host under `settings` (LAB_ACCEL, LAB_TCG_CACHE),
    from `facts` when the caller has them already."""
    return choose_accel(settings.accel, facts or gather_facts(settings.home), settings.tcg_cache)


def kvm_obstacle(facts: HostFacts) -> str | None:
    """Why KVM cannot run our guests on this host, or None when it can."""
    if not facts.kvm_exists:
        return "no /dev/kvm (no hardware virtualisation, or the kvm module is not loaded)"
    if not facts.kvm_accessible:
        return "/dev/kvm is not accessible to this user"
    if facts.kvm_pvm:
        # Measured: QEMU stops with "KVM internal error ... emulation failure"
        # on cmpxchg16b/xrstor with every CPU model tried.
        return "KVM is in PVM mode; stock guest kernels stop with emulation failures under it"
    return None


def gather_facts(home: Path | None = None) -> HostFacts:
    """Look at this host: /dev/kvm, KVM's mode, memory, disk under LAB_HOME, tools."""
    home = home or get_settings().home
    disk_path = nearest_existing(home)
    stat = os.statvfs(disk_path)
    return HostFacts(
        kvm_exists=_KVM.exists(),
        kvm_accessible=_kvm_openable(),
        kvm_pvm=_KVM_PVM.exists(),
        memory_available_bytes=_mem_available(),
        disk_path=disk_path,
        disk_free_bytes=stat.f_bavail * stat.f_frsize,
        tools=tuple(
            ToolFact(program=p, package=pkg, path=shutil.which(p)) for p, pkg in REQUIRED_TOOLS
        ),
    )


def _kvm_openable() -> bool:
    # Opening is the only honest test: permissions, ACLs and device cgroups all apply.
    try:
        fd = os.open(_KVM, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENXIO, errno.ENODEV):
            raise
        return False
    os.close(fd)
    return True


def nearest_existing(path: Path) -> Path:
    """LAB_HOME may not exist yet; its filesystem is the one its nearest parent is on."""
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _mem_available(meminfo: Path = Path("/proc/meminfo")) -> int:
    for line in meminfo.read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable":
            return int(value.split()[0]) * 1024  # the kernel reports kB
    return 0


class Ovmf(Frozen):
    """UEFI firmware for guests: OVMF's code (read-only, shared) and the template of the
    variable store each UEFI machine gets a copy of."""

    code: Path
    vars_template: Path


# Debian 12's `ovmf` package: the 4 MiB builds (the 2 MiB ones are kept for old guests).
_OVMF_PAIRS = (
    (Path("/usr/share/OVMF/OVMF_CODE_4M.fd"), Path("/usr/share/OVMF/OVMF_VARS_4M.fd")),
    (Path("/usr/share/OVMF/OVMF_CODE.fd"), Path("/usr/share/OVMF/OVMF_VARS.fd")),
)


def server_ovmf(
    host: str, loaders: Sequence[str], pairs: tuple[tuple[Path, Path], ...] = _OVMF_PAIRS
) -> Ovmf:
    """OVMF on lab server `host`, from the firmware its libvirt offers (`loaders`, see
    Driver.firmware_loaders), or a HostError saying how to install it there (pure)."""
    for code, template in pairs:
        if str(code) in loaders:
            return Ovmf(code=code, vars_template=template)
    raise HostError(
        f"host {host} offers no UEFI firmware for guests (OVMF)",
        hint="install it there: apt-get install ovmf (playbooks/host.yml does), or give the"
        " machine firmware: bios",
    )


def find_ovmf(pairs: tuple[tuple[Path, Path], ...] = _OVMF_PAIRS) -> Ovmf:
    """The host's OVMF firmware, or a HostError saying how to install it."""
    for code, template in pairs:
        if code.is_file() and template.is_file():
            return Ovmf(code=code, vars_template=template)
    raise HostError(
        "this host has no UEFI firmware for guests (OVMF)",
        hint="install it: apt-get install ovmf (playbooks/host.yml does), or give the"
        " machine firmware: bios",
    )
