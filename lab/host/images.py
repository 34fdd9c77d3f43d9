"""Base images on a lab server: copied once, through libvirt, and checked.

An added host has no image store of its own: the images its labs sit on go into its
pool (lab.host.model.POOL) through libvirt's storage streams, named by their digest
(`DIGEST.disk.qcow2`, and `DIGEST.vmlinuz`, `DIGEST.initrd.img` for an image booted by
its kernel), so each is copied once per host whatever names it has. Every file is read
back from the host and its sha256 compared with what was sent; only then is its mark
written beside it (`FILE.sha256`, holding that sha256). A file without its mark (a copy
cut short) is deleted and copied again.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import time
from collections.abc import Iterator, Sequence, Set
from contextlib import contextmanager
from pathlib import Path

from lab.base import Frozen, Progress, quiet
from lab.driver.connection import Driver
from lab.driver.domain_xml import files_of
from lab.errors import ConflictError, DriverError
from lab.host import targets
from lab.host.hosts import PROBE_SECONDS, ask_each
from lab.host.model import LOCAL, POOL, HostRecord
from lab.host.records import HostStore
from lab.images import ImageStore
from lab.images.model import Image
from lab.settings import Settings

MARK = ".sha256"


class CopiedFile(Frozen):
    image: str
    volume: str  # its name in the host's pool
    size: int
    copied: bool  # False: the host had it already
    seconds: float


def disk_volume(digest: str) -> str:
    """The volume name of the disk of the image with `digest` on a server."""
    return f"{digest}.disk.qcow2"


def server_files(image: Image) -> tuple[str, str | None, str | None]:
    """The volume names of `image` on a server (pure): disk, kernel and initrd (None when
    the image boots from its own disk)."""
    return (
        disk_volume(image.digest),
        f"{image.digest}.{image.kernel}" if image.kernel else None,
        f"{image.digest}.{image.initrd}" if image.initrd else None,
    )


def image_files(store: ImageStore, image: Image) -> list[tuple[str, Path]]:
    """(volume name, local file) of everything a lab on another host needs of `image`."""
    disk, kernel, initrd = server_files(image)
    files = [(disk, store.disk_path(image))]
    if kernel:
        files.append((kernel, store.kernel_path(image)))
    if initrd:
        files.append((initrd, store.initrd_path(image)))
    return files


def ensure_images(
    settings: Settings, host: str, names: Sequence[str], progress: Progress = quiet
) -> list[CopiedFile]:
    """Copy the images `names` to host `host` where it does not have them yet, each
    file checked by its sha256; what was copied and what was there already."""
    record = HostStore.open(settings).get(host)
    if record.name == LOCAL:
        raise ConflictError(
            f"{LOCAL} runs its labs from the image store itself: nothing to copy",
            hint="name a server added with `lab host add`",
        )
    store = ImageStore(settings)
    images = [store.get(name) for name in names]  # NotFoundError before anything is sent
    return ensure_stored(settings, record.name, images, progress)


def ensure_stored(
    settings: Settings, host: str, images: Sequence[Image], progress: Progress = quiet
) -> list[CopiedFile]:
    """`ensure_images` for images already looked up (by name or by digest) in the store."""
    store = ImageStore(settings)
    record = HostStore.open(settings).get(host)
    done: list[CopiedFile] = []
    # One copier per host at a time: the seats of a class come up side by side, and the
    # second would find the first one's copy half-made.
    with copy_lock(settings, record.name), targets.connect(settings, record.name) as driver:
        driver.refresh_pool(POOL)  # as the server's disk has it now, not as libvirt last saw it
        for image in images:
            for volume, path in image_files(store, image):
                done.append(ensure_file(driver, image.name, volume, path, host, progress))
    return done


@contextmanager
def copy_lock(settings: Settings, host: str) -> Iterator[None]:
    """Hold the lock of copies to `host` (an advisory flock the kernel frees with its
    holder), waiting as long as another copy takes."""
    path = settings.home / "locks" / f"images-{host}.lock"  # host names are DNS labels
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_file(
    driver: Driver, image: str, volume: str, path: Path, host: str, progress: Progress
) -> CopiedFile:
    """The file at `path` as volume `volume` of the host's pool (`driver` is connected to
    it), copied and checked unless the host has it already; under `copy_lock`. `image`:
    what it is a file of, for progress and errors."""
    started = time.monotonic()
    size = path.stat().st_size
    if driver.volume_path(POOL, volume) is not None:
        if driver.volume_path(POOL, volume + MARK) is not None:
            return CopiedFile(image=image, volume=volume, size=size, copied=False, seconds=0.0)
        progress(image, f"{volume} on {host} was cut short: copying it again")
        driver.delete_volume(POOL, volume)
    step = max(size // 10, 1)
    shown = [0]

    def sent(count: int) -> None:
        if count - shown[0] >= step or count == size:
            shown[0] = count
            progress(
                image, f"copying to {host}: {100 * count // max(size, 1)}% of {size >> 20} MiB"
            )

    with path.open("rb") as source:
        sha = driver.upload_volume(POOL, volume, source, size, sent)
    there = driver.volume_sha256(POOL, volume)
    if there != sha:
        driver.delete_volume(POOL, volume)
        raise DriverError(
            f"the copy of {image} ({volume}) on host {host} does not match what was"
            f" sent (sha256 {there[:12]} against {sha[:12]}); it was deleted",
            hint="copy it again (lab host prepare); if it fails again, check the host's disk",
        )
    mark = sha.encode()
    driver.upload_volume(POOL, volume + MARK, io.BytesIO(mark), len(mark))
    seconds = time.monotonic() - started
    progress(image, f"{volume} copied to {host} and checked in {seconds:.1f} s")
    return CopiedFile(image=image, volume=volume, size=size, copied=True, seconds=seconds)


class ServerCopies(Frozen):
    """What a prune removed (or, dry run, would remove) from one lab server's pool: the
    copies of image builds the image store holds no more. `kept`: copies of such builds
    that a volume or a domain there still uses."""

    host: str
    volumes: tuple[str, ...]
    bytes: int
    kept: tuple[str, ...] = ()


class PrunedCopies(Frozen):
    """The servers' side of a prune: by server, and the servers that did not answer (their
    copies stay until the next prune)."""

    servers: tuple[ServerCopies, ...] = ()
    unanswered: tuple[str, ...] = ()


_COPY = re.compile(r"(?P<digest>[0-9a-f]{64})\.(?:disk\.qcow2|vmlinuz|initrd\.img)(?:\.sha256)?")


def copied_build(volume: str) -> str | None:
    """The digest of the image build of which `volume` on a server is a file or its mark
    (`server_files`), or None for any other volume: a template's files, a lab's disks."""
    match = _COPY.fullmatch(volume)
    return match["digest"] if match else None


def prune_copies(settings: Settings, keep: Set[str], dry_run: bool = False) -> PrunedCopies:
    """Delete, from every lab server that answers, the copies of image builds not in
    `keep` (the builds the image store holds), each mark before its file, so that a prune
    cut short leaves a copy `ensure_file` makes again. A build stays whose file a volume of
    the server sits on or a domain there names (made by hand, or by another control
    node). With `dry_run`, only say which."""
    servers = [h for h in HostStore.open(settings).list() if h.name != LOCAL]

    def one(host: HostRecord) -> ServerCopies:
        with copy_lock(settings, host.name), targets.connect(settings, host.name) as driver:
            driver.refresh_pool(POOL)
            volumes = driver.list_volumes(POOL)
            stale = [v for v in volumes if (d := copied_build(v)) is not None and d not in keep]
            # What the server's volumes sit on, and what its domains name (a kernel too).
            under = {
                Path(backing).name
                for v in volumes
                if v.endswith(".qcow2") and (backing := driver.volume_backing(POOL, v))
            }
            for domain in driver.list_domains():
                under |= files_of(driver.domain_xml(domain, inactive=True))
            held = {copied_build(v) for v in stale if v in under}
            going = sorted(v for v in stale if copied_build(v) not in held)
            size = sum(driver.volume_allocation(POOL, v) for v in going)
            if not dry_run:
                for volume in sorted(going, key=lambda v: not v.endswith(MARK)):
                    driver.delete_volume(POOL, volume)
            kept = sorted(v for v in stale if copied_build(v) in held and not v.endswith(MARK))
            return ServerCopies(host=host.name, volumes=tuple(going), bytes=size, kept=tuple(kept))

    answers = ask_each(servers, one, 2 * PROBE_SECONDS)
    return PrunedCopies(
        servers=tuple(answers[h.name] for h in servers if h.name in answers),
        unanswered=tuple(h.name for h in servers if h.name not in answers),
    )
