"""A UEFI-bootable GPT disk from a root directory and an ESP directory, without loop
devices or mounts: each file system is made in a file of its partition's size
(mkfs.ext4 -d, mkfs.vfat -C + mtools), the GPT is written on the raw file by sfdisk, and
the partitions are copied in at their offsets with dd (sparse, so holes stay holes).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from lab.commands import run

MiB = 1024**2
GiB = 1024**3
ESP_SIZE = 100 * MiB
_FIRST = MiB  # the first partition starts 1 MiB in, aligned as every partitioner does
# The UEFI "EFI System" type, and the Discoverable Partitions type of an x86-64 root.
ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
ROOT_TYPE = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
# mtools checks that a file system fills its "device"; an image file need not.
_MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


def _guid() -> str:
    return str(uuid.uuid4()).upper()


@dataclass(frozen=True)
class Layout:
    """Where the partitions go on a disk of `size` bytes, and their GUIDs (the root's is
    what the kernel command line and fstab name: root=PARTUUID=...)."""

    size: int
    disk_guid: str = field(default_factory=_guid)
    esp_guid: str = field(default_factory=_guid)
    root_guid: str = field(default_factory=_guid)

    @property
    def esp_start(self) -> int:
        return _FIRST

    @property
    def root_start(self) -> int:
        return _FIRST + ESP_SIZE

    @property
    def root_size(self) -> int:
        # The last MiB is left to the backup GPT (33 sectors) at the end of the disk.
        return self.size - self.root_start - MiB

    def sfdisk_script(self) -> str:
        sector = 512
        return (
            "label: gpt\n"
            f"label-id: {self.disk_guid}\n"
            "unit: sectors\n"
            f"start={self.esp_start // sector}, size={ESP_SIZE // sector}, "
            f'type={ESP_TYPE}, uuid={self.esp_guid}, name="EFI System"\n'
            f"start={self.root_start // sector}, size={self.root_size // sector}, "
            f'type={ROOT_TYPE}, uuid={self.root_guid}, name="root"\n'
        )


def make_esp(tree: Path, image: Path) -> None:
    """A FAT32 file of ESP_SIZE holding the files under `tree`."""
    run(["mkfs.vfat", "-F", "32", "-n", "ESP", "-C", image, str(ESP_SIZE // 1024)])
    for top in sorted(tree.iterdir()):
        run(["mcopy", "-s", "-Q", "-i", image, top, "::/"], env=_MTOOLS_ENV)


def make_root(rootfs: Path, image: Path, size: int) -> None:
    """An ext4 file of `size` bytes holding the directory `rootfs` (sparse: only the
    files' blocks take space)."""
    with image.open("wb") as f:
        os.ftruncate(f.fileno(), size)
    run(
        ["mkfs.ext4", "-q", "-F", "-L", "root", "-E", "root_owner=0:0", "-d", rootfs, image],
        hint="the root file system may not fit: give the appliance a larger size",
    )


def assemble(layout: Layout, esp: Path, root: Path, raw: Path) -> None:
    """The raw disk: a sparse file of layout.size, its GPT, and the two partitions."""
    with raw.open("wb") as f:
        os.ftruncate(f.fileno(), layout.size)
    run(
        ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", raw],
        input=layout.sfdisk_script().encode(),
    )
    for image, start in ((esp, layout.esp_start), (root, layout.root_start)):
        run(
            [
                "dd",
                f"if={image}",
                f"of={raw}",
                "bs=1M",
                f"seek={start // MiB}",
                "conv=notrunc,sparse",
                "status=none",
            ]
        )
