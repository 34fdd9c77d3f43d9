"""`lab image inspect`: what is on a stored image's disk, read without booting it.

libguestfs's virt-inspector starts its own small appliance (a kernel and a few tools under
QEMU), opens the disk read-only (it always does: libguestfs puts a throw-away overlay over
every disk it is given), finds each operating system on it and lists the installed
packages (dpkg, RPM, ... or the programs Windows registered). The disk's format is always
given, never probed: a raw disk from a community could otherwise claim to be a qcow2 with
a backing file naming any file of the host. A disk that asks for a LUKS key gets none
(`--keys-from-stdin` with nothing on it): it is not read, and virt-inspector says so.

Where KVM is not usable (lab.host.facts), the appliance runs under TCG: about half a
minute per disk here instead of a few seconds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from lab.commands import run, which
from lab.driver.specs import VirtType
from lab.errors import CommandError, HostError
from lab.host.facts import host_accel
from lab.images.build import Progress
from lab.images.inspection import DiskInspection, parse_inspector_xml
from lab.images.store import ImageStore
from lab.settings import Settings

# Measured here under TCG: 23-35 s for a disk; a large Windows disk reads its registry
# hives too. Generous: a busy 2-core host runs guests beside it.
TIMEOUT = 900.0
_PACKAGE = "libguestfs-tools"
_HINT = (
    "see what libguestfs says: LIBGUESTFS_DEBUG=1 virt-inspector -a DISK; "
    "libguestfs-test-tool checks this host can run its appliance"
)


def inspect_images(
    settings: Settings, names: Sequence[str], progress: Progress, timeout: float = TIMEOUT
) -> DiskInspection:
    """Inspect the stored images `names`, read-only: the disks of one machine (a system
    whose /usr or /var is on its second disk needs both)."""
    store = ImageStore(settings)
    images = [store.get(name) for name in names]  # NotFoundError for a name not stored
    program = which("virt-inspector", _PACKAGE)
    argv: list[str] = [program, "--no-icon", "--keys-from-stdin"]
    for image in images:
        # Every stored disk is a qcow2 of the store's own making (lab.images.store).
        argv += [f"--format={image.format}", "-a", str(store.disk_path(image))]
    tcg = host_accel(settings).virt_type is not VirtType.KVM
    env = {**os.environ, "LIBGUESTFS_BACKEND": "direct"}
    if tcg:
        env["LIBGUESTFS_BACKEND_SETTINGS"] = "force_tcg"
    shown = ", ".join(names)
    progress(
        f"inspecting {shown} with virt-inspector"
        + (" (its appliance under software emulation: about half a minute)" if tcg else "")
    )
    started = time.monotonic()
    try:
        proc = run(argv, env=env, input=b"", timeout=timeout, hint=_HINT)
    except HostError as exc:  # the program went between `which` and here
        raise HostError(
            exc.message, hint=f"install {_PACKAGE}: apt-get install {_PACKAGE} (make setup does)"
        ) from None
    except CommandError as exc:
        late = time.monotonic() - started >= timeout
        raise InspectionError(
            f"virt-inspector could not inspect {shown}: {exc.message}",
            hint=f"it took longer than {timeout:.0f} s: try again when the host is less busy"
            if late
            else f"{_HINT}; a disk that needs a key (LUKS, BitLocker) cannot be read",
        ) from None
    seconds = round(time.monotonic() - started, 1)
    inspection = parse_inspector_xml(proc.stdout, tuple(names), seconds)
    found = sum(len(s.packages) for s in inspection.systems)
    progress(
        f"read {len(inspection.systems)} operating system(s), {found} packages in {seconds:.0f} s"
    )
    return inspection


class InspectionError(CommandError):
    """virt-inspector could not read a disk (or did not finish in time)."""
