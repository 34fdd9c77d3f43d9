"""What an import stored, and the profile stanza that runs it (pure functions)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from lab.base import Frozen
from lab.images.model import Image
from lab.images.ovf import HardwareHints, NicHint
from lab.profile.appliance import DiskBus, Firmware, NicModel

# A machine imported from a bare disk: nothing says otherwise, so what most guests boot.
DEFAULT_HINTS = HardwareHints(
    name="machine",
    vcpus=1,
    memory=1024**3,
    nics=(NicHint(model=NicModel.E1000E),),
    firmware=Firmware.BIOS,
)
DEFAULT_BUS = DiskBus.SATA
_MiB, _GiB = 1024**2, 1024**3
_LABEL_MAX = 63
# Room for "-diskNN" after a name derived from a file.
_STEM_MAX = _LABEL_MAX - len("-disk16")
Progress = Callable[[str], None]  # as lab.images.build's: one line per step
_PERCENT_FROM = 64 * _MiB  # smaller files are done before a percentage would help


class ImportResult(Frozen):
    """The images one import stored (a machine's disks, in order) and what its descriptor
    said of the machine (None for a bare disk file)."""

    images: tuple[Image, ...]
    hints: HardwareHints | None = None


def disk_names(name: str, count: int) -> list[str]:
    """The image names of a machine's disks: NAME, NAME-disk2, NAME-disk3, ..."""
    return [name] + [f"{name}-disk{i}" for i in range(2, count + 1)]


def name_from_file(path: Path) -> str:
    """An image name made from a file's name: `Web Server v2.ova` -> `web-server-v2`."""
    text = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower())
    text = re.sub(r"-{2,}", "-", text).lstrip("._-")[:_STEM_MAX].rstrip("._-")
    return text or "imported"


def dns_label(name: str) -> str:
    """A machine name from an image name: only letters, digits and inner hyphens."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-")[:_LABEL_MAX].rstrip("-")
    return text or "machine"


def percent_steps(progress: Progress, label: str) -> Callable[[int, int], None]:
    """A `(done, total)` callback that reports `label: N%` at each tenth of a large file."""
    shown = [0]

    def report(done: int, total: int) -> None:
        if total < _PERCENT_FROM:
            return
        tenth = done * 10 // total
        if tenth > shown[0]:
            shown[0] = tenth
            progress(f"{label}: {tenth * 10}%")

    return report


def profile_stanza(result: ImportResult, name: str) -> str:
    """The `machines:` entry (YAML, a one-item list) that runs what `result` stored."""
    hints = result.hints or DEFAULT_HINTS
    first = result.images[0]
    buses = [d.bus for d in hints.disks] or [DEFAULT_BUS]
    nics = hints.nics or DEFAULT_HINTS.nics
    appliance: dict[str, Any] = {
        # What the disk itself says beats a descriptor (or the default when there is none).
        "firmware": result.images[0].firmware or hints.firmware.value,
        "machine_type": "pc" if DiskBus.IDE in buses else "q35",
        "disk_bus": buses[0].value,
        "nic_model": nics[0].model.value,
    }
    if len(result.images) > 1:
        appliance["extra_disks"] = [image.name for image in result.images[1:]]
    machine: dict[str, Any] = {
        "name": dns_label(name),
        "image": first.name,
        "vcpus": hints.vcpus,
        "memory": _iec_mib(hints.memory),
        "disk": f"{max(1, math.ceil(first.virtual_size / _GiB))}GiB",
        "appliance": appliance,
        "nics": [_nic(nic) for nic in nics],
    }
    return yaml.dump([machine], Dumper=_Dumper, sort_keys=False, default_flow_style=False)


class _Quoted(str):
    """A value printed in double quotes: a MAC of digits is otherwise YAML 1.1's base 60."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Quoted, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, '"')
)


def _nic(nic: NicHint) -> dict[str, str]:
    entry = {"network": "CHANGE-ME", "address": "CHANGE-ME"}
    if nic.mac:
        entry["mac"] = _Quoted(nic.mac)
    return entry


def _iec_mib(size: int) -> str:
    mib = max(1, math.ceil(size / _MiB))
    return f"{mib // 1024}GiB" if mib % 1024 == 0 else f"{mib}MiB"
