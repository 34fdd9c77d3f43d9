"""A vendor appliance: a machine the lab does not manage, made from the Debian mirror the
way a vendor ships one, for integration tests that import a community's own machine.

"Vendor Docflow" is Debian 12 on a GPT disk booted by UEFI (systemd-boot on the ESP's
removable-media path, so OVMF boots it with empty NVRAM), with the full kernel (SATA/AHCI
and e1000e, no virtio), a static address on its en* NIC, qemu-guest-agent, no cloud-init,
no SSH server, and a small web application on port 80 (docflow.py). It is exported as a
streamOptimized VMDK and as an OVA (ovf.py).

    build(out, ...)          build into the directory `out`
    ensure(cache_root, ...)  a complete build from cache_root/<key>/, built if missing
    python -m tests.appliances.vendor CACHE_ROOT   the same as ensure, from a shell
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.commands import process_alive, run
from lab.errors import InvalidError
from lab.images.build import customize_hooks, host_sources
from tests.appliances import disk, ovf
from tests.appliances.disk import GiB

Progress = Callable[[str], None]

NAME = "docflow"
NETWORK = "office"
DEFAULT_ADDRESS = "10.77.0.20/24"
DEFAULT_MAC = "00:50:56:12:34:56"
ADMIN_USER = "admin"
DEFAULT_PASSWORD = "docflow-admin"  # the vendor's documented default console login
PORT = 80
SUITE = "bookworm"
PACKAGES = (
    "linux-image-amd64",  # the full kernel: ahci and e1000e are modules of it
    "systemd-sysv",
    "udev",
    "dbus",
    "passwd",
    "systemd-boot-efi",  # only its EFI binary is used, copied onto the ESP
    "qemu-guest-agent",
    "python3",
)
_MMDEBSTRAP_TIMEOUT = 1800.0
_MIN_SIZE = 1536 * 1024**2  # the root file system takes about 750 MiB
_HERE = Path(__file__).parent
_SOURCES = ("vendor.py", "disk.py", "ovf.py", "docflow.py")  # what the cache key covers
_COMPLETE = "appliance.json"  # written last: a directory without it is not a build


class VendorAppliance(BaseModel):
    """A built appliance: its disk three ways, and what its documentation would say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw: Path  # GPT raw disk (sparse)
    vmdk: Path  # the same disk, streamOptimized VMDK
    ova: Path  # docflow.ovf + the VMDK + docflow.mf
    address: str  # static address/prefix on the en* NIC
    mac: str  # the NIC's MAC in the OVF descriptor
    admin_password: str  # of the console login `admin_user` (root's password is locked)
    admin_user: str = ADMIN_USER
    hostname: str = NAME
    port: int = PORT
    network: str = NETWORK

    @property
    def ip(self) -> str:
        return str(ipaddress.IPv4Interface(self.address).ip)


def _check(address: str, mac: str, size: int, password: str) -> None:
    try:
        valid = "/" in address and bool(ipaddress.IPv4Interface(address))
    except ValueError:
        valid = False
    if not valid:  # an address without a prefix would be a /32, reachable from nowhere
        raise InvalidError(f"{address!r} is no IPv4 address/prefix", "e.g. 10.77.0.20/24")
    if not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", mac):
        raise InvalidError(f"{mac!r} is no MAC address", hint="lower case, e.g. 00:50:56:12:34:56")
    if size < _MIN_SIZE or size % disk.MiB:
        raise InvalidError(f"disk size {size} is too small or not whole MiB", "at least 1.5 GiB")
    if not password or "\n" in password or ":" in password:
        raise InvalidError("the admin password is empty or holds ':' or a line break")


def _files(address: str, root_guid: str) -> dict[str, str]:
    """Files written into the root file system (relative path -> content)."""
    return {
        "etc/hostname": f"{NAME}\n",
        "etc/hosts": f"127.0.0.1 localhost\n127.0.1.1 {NAME}\n",
        "etc/fstab": f"PARTUUID={root_guid.lower()} / ext4 defaults,errors=remount-ro 0 1\n",
        # Empty: systemd makes the machine's id on its first boot.
        "etc/machine-id": "",
        "etc/systemd/network/10-office.network": (
            f"[Match]\nName=en*\n\n[Network]\nAddress={address}\nLinkLocalAddressing=no\n"
        ),
        # Nothing waits for the network, but if something does, not for long.
        "etc/systemd/system/systemd-networkd-wait-online.service.d/appliance.conf": (
            "[Service]\nExecStart=\n"
            "ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30\n"
        ),
        "opt/docflow/docflow.py": (_HERE / "docflow.py").read_text(encoding="utf-8"),
        "etc/systemd/system/docflow.service": (
            "[Unit]\nDescription=Vendor Docflow web application\nAfter=network.target\n\n"
            "[Service]\nExecStart=/usr/bin/python3 /opt/docflow/docflow.py\n"
            "StateDirectory=docflow\nStandardOutput=journal+console\n"
            "Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n"
        ),
    }


def _esp_tree(rootfs: Path, tree: Path, root_guid: str) -> None:
    """systemd-boot as the removable-media loader, one entry, and the kernel and initrd."""
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise InvalidError("the root file system has no kernel in /boot")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    copies = {
        "EFI/BOOT/BOOTX64.EFI": rootfs / "usr/lib/systemd/boot/efi/systemd-bootx64.efi",
        "vmlinuz": kernels[-1],
        "initrd.img": rootfs / "boot" / f"initrd.img-{version}",
    }
    for rel, src in copies.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tree / rel)
    (tree / "loader/entries").mkdir(parents=True)
    (tree / "loader/loader.conf").write_text("default appliance.conf\ntimeout 0\n")
    (tree / "loader/entries/appliance.conf").write_text(
        "title Vendor Docflow\nlinux /vmlinuz\ninitrd /initrd.img\n"
        f"options root=PARTUUID={root_guid.lower()} rw console=tty0 console=ttyS0\n"
    )


def _rootfs(rootfs: Path, work: Path, address: str, password: str, root_guid: str) -> None:
    argv: list[str | Path] = [
        "mmdebstrap",
        "--mode=unshare",
        "--variant=apt",  # Essential packages and apt: the smallest that still updates
        "--format=directory",
        f"--include={','.join(PACKAGES)}",
        # Each clone makes its own machine id on first boot (etc/machine-id is emptied).
        *customize_hooks(["rm -f /var/lib/dbus/machine-id"]),
        SUITE,
        rootfs,
        *host_sources(SUITE, work),
    ]
    run(argv, timeout=_MMDEBSTRAP_TIMEOUT, hint="check that the Debian mirror is reachable")
    for rel, content in _files(address, root_guid).items():
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.write_text(content, encoding="utf-8")
    chroot: list[str | Path] = ["chroot", rootfs]
    run([*chroot, "systemctl", "enable", "--quiet", "systemd-networkd.service", "docflow"])
    run([*chroot, "passwd", "--lock", "root"])
    run([*chroot, "useradd", "--create-home", "--shell", "/bin/bash", ADMIN_USER])
    run([*chroot, "chpasswd"], input=f"{ADMIN_USER}:{password}\n".encode())


def build(
    out: Path,
    *,
    address: str = DEFAULT_ADDRESS,
    mac: str = DEFAULT_MAC,
    size: int = 2 * GiB,
    admin_password: str = DEFAULT_PASSWORD,
    progress: Progress = print,
) -> VendorAppliance:
    """Build the appliance into `out` (created if missing): docflow.raw, the VMDK, the OVA."""
    _check(address, mac, size, admin_password)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out, prefix=".work-"))
    layout = disk.Layout(size)
    raw, vmdk, ova = out / f"{NAME}.raw", out / f"{NAME}-disk1.vmdk", out / f"{NAME}.ova"
    try:
        started = time.monotonic()
        progress(f"mmdebstrap {SUITE} with {len(PACKAGES)} packages")
        rootfs = work / "rootfs"
        _rootfs(rootfs, work, address, admin_password, layout.root_guid)
        progress(f"root file system ready after {time.monotonic() - started:.0f} s")
        _esp_tree(rootfs, work / "esp", layout.root_guid)
        disk.make_esp(work / "esp", work / "esp.img")
        disk.make_root(rootfs, work / "root.img", layout.root_size)
        disk.assemble(layout, work / "esp.img", work / "root.img", raw)
        progress(f"raw disk ready after {time.monotonic() - started:.0f} s")
        vmdk_options = "subformat=streamOptimized"
        run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", vmdk_options, raw, vmdk])
        machine = ovf.Machine(NAME, vmdk.name, vmdk.stat().st_size, size, NETWORK, mac)
        descriptor = out / f"{NAME}.ovf"
        descriptor.write_bytes(ovf.descriptor(machine))
        ovf.write_ova(descriptor, vmdk, ova)
        progress(f"appliance ready after {time.monotonic() - started:.0f} s: {out}")
    finally:
        shutil.rmtree(work)
    appliance = VendorAppliance(
        raw=raw, vmdk=vmdk, ova=ova, address=address, mac=mac, admin_password=admin_password
    )
    (out / _COMPLETE).write_text(appliance.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return appliance


def cache_key(address: str, mac: str, size: int, admin_password: str) -> str:
    """sha256 of the builder's sources and the parameters: a changed builder builds anew."""
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((_HERE / name).read_bytes())
    params = {"address": address, "mac": mac, "size": size, "admin_password": admin_password}
    digest.update(json.dumps(params, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def ensure(
    cache_root: Path,
    *,
    address: str = DEFAULT_ADDRESS,
    mac: str = DEFAULT_MAC,
    size: int = 2 * GiB,
    admin_password: str = DEFAULT_PASSWORD,
    progress: Progress = print,
) -> VendorAppliance:
    """The appliance from cache_root/<key>/, built there first if it is not.

    A build happens in cache_root/.building-<key>-<pid>/ and is renamed into place only
    once complete, so a killed build leaves nothing that looks like a build; what a dead
    builder left is removed on the next call.
    """
    _check(address, mac, size, admin_password)
    key = cache_key(address, mac, size, admin_password)
    final = cache_root / key
    if (final / _COMPLETE).is_file():
        return _load(final)
    cache_root.mkdir(parents=True, exist_ok=True)
    for stale in cache_root.glob(".building-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and process_alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    building = cache_root / f".building-{key}-{os.getpid()}"
    try:
        build(
            building,
            address=address,
            mac=mac,
            size=size,
            admin_password=admin_password,
            progress=progress,
        )
        if (final / _COMPLETE).is_file():  # another process finished first: keep its
            return _load(final)
        shutil.rmtree(final, ignore_errors=True)
        building.rename(final)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return _load(final)


def _load(directory: Path) -> VendorAppliance:
    """The record of a build, with its paths re-rooted where the directory is now."""
    record = VendorAppliance.model_validate_json((directory / _COMPLETE).read_text())
    return record.model_copy(
        update={p: directory / getattr(record, p).name for p in ("raw", "vmdk", "ova")}
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.appliances.vendor",
        description="Build the vendor appliance into CACHE_ROOT/<key>/ unless it is there.",
    )
    parser.add_argument("cache_root", type=Path)
    parser.add_argument("--address", default=DEFAULT_ADDRESS)
    parser.add_argument("--mac", default=DEFAULT_MAC)
    parser.add_argument("--size-gib", type=int, default=2)
    parser.add_argument("--admin-password", default=DEFAULT_PASSWORD)
    args = parser.parse_args(argv)
    appliance = ensure(
        args.cache_root,
        address=args.address,
        mac=args.mac,
        size=args.size_gib * GiB,
        admin_password=args.admin_password,
    )
    print(appliance.model_dump_json(indent=2))


if __name__ == "__main__":
    main()
