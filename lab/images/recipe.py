"""Image recipes: `images/*.yaml`, validated once into a frozen model.

A recipe says what goes into a base image (suite, variant, packages, size, a few
customize lines); `build.py` says how. The recipe's cache key covers everything that
changes the result, so an unchanged recipe is never built twice.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

from lab.errors import InvalidError

# Bump when the build steps change what ends up in an image: it invalidates every cache entry.
BUILDER_VERSION = "3"

DEFAULT_CMDLINE = "root=/dev/vda rw console=ttyS0 net.ifnames=1"

# What the orchestrator relies on inside every guest (boot, SSH, Ansible, guest agent).
REQUIRED_PACKAGES = frozenset(
    {
        "systemd-sysv",
        "openssh-server",
        "python3",
        "cloud-init",
        "qemu-guest-agent",
        "sudo",
        "udev",
        "dbus",
        "iproute2",
        # fsck at boot and cloud-init's resizefs (variant apt does not install it).
        "e2fsprogs",
    }
)
_MIN_SIZE = 512 * 1024**2

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
PackageName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$")]


class Variant(StrEnum):
    """mmdebstrap variants that yield a bootable system once packages are added."""

    APT = "apt"
    REQUIRED = "required"
    IMPORTANT = "important"
    STANDARD = "standard"


class Recipe(BaseModel):
    """What a base image contains. Built by `lab image build images/NAME.yaml`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    suite: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    variant: Variant = Variant.APT
    packages: tuple[PackageName, ...]
    size: ByteSize
    cmdline: str = DEFAULT_CMDLINE
    customize: tuple[str, ...] = ()

    @field_validator("packages")
    @classmethod
    def _has_required(cls, packages: tuple[str, ...]) -> tuple[str, ...]:
        missing = sorted(REQUIRED_PACKAGES - set(packages))
        if missing:
            raise ValueError(f"missing required packages: {', '.join(missing)}")
        if not any(p.startswith("linux-image-") for p in packages):
            raise ValueError("no kernel: add a linux-image-* package (linux-image-cloud-amd64)")
        return packages

    @field_validator("size")
    @classmethod
    def _big_enough(cls, size: ByteSize) -> ByteSize:
        if size < _MIN_SIZE:
            raise ValueError(f"{size.human_readable()} is too small (at least 512MiB)")
        return size


def load_recipe(path: Path) -> Recipe:
    """Read and validate a recipe file; every problem names the file and the key."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidError(
            f"cannot read recipe {path}: {exc.strerror}", hint="recipes live in images/*.yaml"
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidError(f"{path}: not valid YAML: {exc}", hint="check the indentation") from exc
    if not isinstance(data, dict):
        raise InvalidError(
            f"{path}: a recipe is a mapping of keys", hint="see images/debian-12.yaml"
        )
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidError(
            f"{path}: {key}: {first['msg']}{more}", hint="see images/debian-12.yaml"
        ) from exc


def cache_key(recipe: Recipe, mirror: str) -> str:
    """sha256 over the canonical recipe, the builder version and the mirror setting."""
    canonical = json.dumps(
        {"recipe": recipe.model_dump(mode="json"), "builder": BUILDER_VERSION, "mirror": mirror},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
