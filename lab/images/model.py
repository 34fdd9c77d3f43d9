"""The metadata of a stored image (`image.json` beside its disk)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Boot(StrEnum):
    """How a guest starts: the store's kernel+initrd (direct boot) or the disk's bootloader."""

    KERNEL = "kernel"
    BOOTLOADER = "bootloader"


class SourceKind(StrEnum):
    RECIPE = "recipe"
    IMPORT = "import"


class Source(BaseModel):
    """Where an image came from. recipe: ref = recipe file, sha256 = recipe cache key;
    import: ref = imported file name, sha256 = that file's checksum."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SourceKind
    ref: str
    sha256: str


class Image(BaseModel):
    """A read-only base disk in the store, addressed by the sha256 of its disk.qcow2."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    digest: str
    format: str = "qcow2"
    boot: Boot
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    virtual_size: int
    disk_size: int
    created: datetime
    source: Source
    # For built images: the recipe's packages as installed, "name=version".
    packages: tuple[str, ...] = ()
    # For imported disks: the only firmware that boots it, as its partition table says
    # (lab/images/partitions.py); None when it does not say.
    firmware: Literal["bios", "uefi"] | None = None
