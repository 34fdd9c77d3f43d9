"""Build steps: recipe -> rootfs (mmdebstrap) -> guest configuration -> ext4 -> qcow2.

Everything happens inside one work directory the store hands in; nothing here touches
the store itself. The rootfs is a directory so that mkfs.ext4 -d can copy it into a
sparse raw file without mounting anything, and the kernel and initrd can be picked out.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from lab.commands import run
from lab.errors import CommandError, HostError, InvalidError
from lab.images import qemu
from lab.images.recipe import Recipe

Progress = Callable[[str], None]

_MMDEBSTRAP_TIMEOUT = 1800.0
_HOST_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))

# Files baked into every image. Why each one exists:
_FILES: dict[str, str] = {
    # DHCP on whatever NIC the guest gets, named by predictable names (en*).
    "etc/systemd/network/20-lab.network": "[Match]\nName=en*\n\n[Network]\nDHCP=yes\n",
    # A lab with several NICs is "online" once one of them is; do not stall boot for long.
    "etc/systemd/system/systemd-networkd-wait-online.service.d/lab.conf": (
        "[Service]\nExecStart=\n"
        "ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30\n"
    ),
    # The seed disk is the only data source. Its network-config (static addresses per
    # MAC) is rendered by cloud-init for systemd-networkd before networkd starts; the
    # 20-lab.network DHCP file above is only the fallback for a boot without a seed.
    "etc/cloud/cloud.cfg.d/99-lab.cfg": (
        "datasource_list: [NoCloud]\nssh_pwauth: false\n"
        # No locales package in the image; C.UTF-8 is built into libc.
        "locale: C.UTF-8\nssh_genkeytypes: [ed25519, ecdsa, rsa]\n"
    ),
    "etc/ssh/sshd_config.d/50-lab.conf": (
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    ),
    # Host keys are removed from the image (every clone would share them). cloud-init makes
    # new ones on first boot; this unit covers a boot without a seed disk.
    "etc/systemd/system/lab-ssh-hostkeys.service": (
        "[Unit]\nDescription=Generate missing SSH host keys\n"
        "After=cloud-init.service\nBefore=ssh.service\n"
        "ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n\n"
        "[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    ),
    "etc/fstab": "/dev/vda / ext4 defaults,errors=remount-ro 0 1\n",
    "etc/hostname": "debian\n",
    # Empty: systemd makes a fresh id on each clone's first boot.
    "etc/machine-id": "",
}
_ENABLE = ("systemd-networkd.service", "serial-getty@ttyS0.service", "lab-ssh-hostkeys.service")


def bootstrap(recipe: Recipe, rootfs: Path, work: Path, mirror: str) -> None:
    """mmdebstrap the recipe into the directory `rootfs` (which must not exist yet)."""
    argv: list[str | Path] = [
        "mmdebstrap",
        # As root, unshare still gives mmdebstrap its own mount namespace: a killed build
        # cannot leave /proc or /dev mounted inside our work directory.
        "--mode=unshare",
        f"--variant={recipe.variant}",
        "--format=directory",
        f"--include={','.join(recipe.packages)}",
    ]
    argv += customize_hooks(recipe.customize)
    argv += [recipe.suite, rootfs]
    argv += [mirror] if mirror else host_sources(recipe.suite, work)
    run(
        argv,
        timeout=_MMDEBSTRAP_TIMEOUT,
        hint="check the package names and that the Debian mirror is reachable "
        "(LAB_DEBIAN_MIRROR, or the host's apt sources when it is empty)",
    )


def customize_hooks(lines: Sequence[str]) -> list[str]:
    """mmdebstrap options running each line in the new root's shell. mmdebstrap runs a
    hook with `sh -c HOOK exec ROOT`; quoted here, a line reaches the chroot's `sh -ec` as
    one argument, whatever quotes, `;` or `$(...)` it holds."""
    return [f'--customize-hook=chroot "$1" sh -ec {shlex.quote(line)}' for line in lines]


def host_sources(suite: str, work: Path) -> list[Path]:
    """The host's apt sources, rewritten for `suite`, as files mmdebstrap pastes in.

    mmdebstrap without a mirror argument would use deb.debian.org; the Centre's servers
    may only reach their own mirror, which the host's apt sources already name.
    """
    codename = _host_codename()
    files = [p for p in _HOST_SOURCES if p.is_file()]
    for directory in (p for p in _HOST_SOURCES if p.is_dir()):
        files += sorted(directory.glob("*.list")) + sorted(directory.glob("*.sources"))
    out: list[Path] = []
    for i, path in enumerate(files):
        text = _retarget(path.read_text(encoding="utf-8"), codename, suite)
        if any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
            dest = work / f"sources-{i}{'.sources' if path.suffix == '.sources' else '.list'}"
            dest.write_text(text, encoding="utf-8")
            out.append(dest)
    if not out:
        raise HostError("the host has no apt sources", hint="set LAB_DEBIAN_MIRROR to a mirror URL")
    return out


def _host_codename() -> str:
    fields = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    if fields.get("ID", "").strip('"') != "debian" or "VERSION_CODENAME" not in fields:
        raise HostError(
            "the host is not Debian, so its apt sources cannot serve the image",
            hint="set LAB_DEBIAN_MIRROR to a Debian mirror URL",
        )
    return fields["VERSION_CODENAME"].strip('"')


def _retarget(text: str, codename: str, suite: str) -> str:
    """Swap the host's codename for the recipe's suite (bookworm-updates -> SUITE-updates)."""
    if codename == suite:
        return text

    def swap(token: str) -> str:
        if token == codename or token.startswith(codename + "-"):
            return suite + token[len(codename) :]
        return token

    lines = []
    for line in text.splitlines():
        if line.startswith("Suites:"):
            line = "Suites: " + " ".join(swap(t) for t in line.split()[1:])
        elif m := re.match(r"^(deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?\S+\s+)(\S+)(.*)$", line):
            line = m.group(1) + swap(m.group(2)) + m.group(3)
        lines.append(line)
    return "\n".join(lines) + "\n"


def configure(rootfs: Path) -> None:
    """Bake the guest configuration every lab machine relies on (see _FILES)."""
    for rel, content in _FILES.items():
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # e.g. a symlink left by a package
        path.write_text(content, encoding="utf-8")
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (rootfs / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    # qemu-guest-agent needs no enabling: udev starts it when its virtio-serial port exists.
    run(["chroot", rootfs, "systemctl", "enable", "--quiet", *_ENABLE])
    run(["chroot", rootfs, "passwd", "--lock", "root"])


def package_versions(rootfs: Path, packages: tuple[str, ...]) -> tuple[str, ...]:
    fmt = "-f=${Package}=${Version}\n"
    proc = run(["dpkg-query", f"--admindir={rootfs / 'var/lib/dpkg'}", "-W", fmt, *packages])
    return tuple(proc.stdout.decode().split())


def extract_boot(rootfs: Path, dest: Path) -> tuple[Path, Path]:
    """Copy the newest kernel and its initrd out of the rootfs as dest/vmlinuz, initrd.img."""
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise InvalidError("the image has no kernel in /boot", hint="add linux-image-cloud-amd64")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    initrd = rootfs / "boot" / f"initrd.img-{version}"
    if not initrd.is_file():
        raise InvalidError(
            f"kernel {version} has no initrd", hint="the recipe needs initramfs-tools"
        )
    kernel_out, initrd_out = dest / "vmlinuz", dest / "initrd.img"
    shutil.copyfile(kernels[-1], kernel_out)
    shutil.copyfile(initrd, initrd_out)
    return kernel_out, initrd_out


def make_disk(rootfs: Path, size: int, raw: Path, qcow2: Path) -> None:
    """ext4 of `size` bytes from the rootfs directory (sparse raw, no mount), then qcow2."""
    with raw.open("wb") as f:
        os.ftruncate(f.fileno(), size)
    try:
        run(
            ["mkfs.ext4", "-q", "-F", "-L", "root", "-E", "root_owner=0:0", "-d", rootfs, raw],
            hint="the rootfs may not fit: raise `size` in the recipe",
        )
    except CommandError:
        raw.unlink(missing_ok=True)
        raise
    qemu.convert(raw, qcow2)
    raw.unlink()
