"""The content-addressed image store under `settings.images_dir`.

    blobs/<digest>/                 disk.qcow2, vmlinuz, initrd.img, image.json (all 0444);
                                    the digest is the sha256 of disk.qcow2 for a built
                                    image, of the file handed over for an imported disk
    names/<name>.json               {"name", "digest"}: what `lab image ...` calls it
    cache/<recipe key>.json         {"digest"}: a recipe that was built already
    tmp/<pid>-<random>/             work directories of running builds and imports (an
                                    OVA is unpacked there)

Blobs are only ever renamed into place complete, so a failed or killed build leaves
nothing in blobs/ or names/. QEMU runs as `libvirt-qemu`: every stored file is world
readable and every directory down to it world traversable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from lab.commands import process_alive
from lab.errors import ConflictError, HostError, InvalidError, NotFoundError, quote
from lab.images import build as steps
from lab.images import package, qemu
from lab.images.build import Progress
from lab.images.imports import ImportResult, disk_names, percent_steps
from lab.images.model import Boot, Image, Source, SourceKind
from lab.images.partitions import HEAD_SECTORS, required_firmware
from lab.images.recipe import NAME_PATTERN, Recipe, cache_key, load_recipe
from lab.settings import Settings

DISK, KERNEL, INITRD, META = "disk.qcow2", "vmlinuz", "initrd.img", "image.json"
_NAME = re.compile(NAME_PATTERN)


class ImageStore:
    """Named, read-only base images; built from recipes or imported."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.images_dir

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str) -> Image:
        path = self._name_file(name)
        try:
            digest = json.loads(path.read_text())["digest"]
        except FileNotFoundError:
            raise NotFoundError(
                f"no image named '{name}'",
                hint=f"build it: lab image build images/{name}.yaml (or see: lab image list)",
            ) from None
        return self._load(digest).model_copy(update={"name": name})

    def list(self) -> list[Image]:
        names = self.root / "names"
        if not names.is_dir():
            return []
        return [self.get(p.stem) for p in sorted(names.glob("*.json"))]

    def by_digest(self, digest: str) -> Image:
        """The stored image of blob `digest`, whatever names it now (a template's layers
        sit on the image they were made on, even once its name points at a newer one)."""
        return self._load(digest)

    def builds(self) -> dict[str, Image]:
        """Every stored build (blob), by digest, whatever names it: a rebuilt image moves
        its name to a new build and leaves the old one for the labs on it."""
        blobs = self.root / "blobs"
        if not blobs.is_dir():
            return {}
        return {b.name: self._load(b.name) for b in sorted(blobs.iterdir()) if (b / META).is_file()}

    def named_digests(self) -> set[str]:
        """The builds a name points at (the newest of each image name)."""
        names = self.root / "names"
        if not names.is_dir():
            return set()
        return {self._digest_of(p) for p in names.glob("*.json")}

    def build_bytes(self, digest: str) -> int:
        """What a build's files take on disk (its disk, kernel, initrd, metadata)."""
        return sum(f.stat().st_blocks * 512 for f in self._blob(digest).iterdir() if f.is_file())

    def disk_path(self, image: Image) -> Path:
        return self._blob(image.digest) / DISK

    def disk_of(self, digest: str) -> Path:
        """The base disk of the stored blob `digest` (what a lab's overlays sit on)."""
        return self._blob(digest) / DISK

    def kernel_path(self, image: Image) -> Path:
        return self._blob(image.digest) / self._kernel_boot(image, image.kernel)

    def initrd_path(self, image: Image) -> Path:
        return self._blob(image.digest) / self._kernel_boot(image, image.initrd)

    # -- writing -------------------------------------------------------------------------

    def build(self, recipe_path: Path, progress: Progress, force: bool = False) -> Image:
        """Build a recipe, or return the stored image when the same recipe was built before."""
        return self.build_recipe(load_recipe(recipe_path), recipe_path.name, progress, force)

    def build_recipe(
        self, recipe: Recipe, ref: str, progress: Progress, force: bool = False
    ) -> Image:
        """Build a recipe given as a model (`ref` names where it came from)."""
        key = cache_key(recipe, self.settings.debian_mirror)
        if not force and (cached := self._cached(key)) is not None:
            progress(f"{recipe.name} is up to date ({cached.digest[:12]})")
            with self._lock():
                self._point(recipe.name, cached.digest)
            return cached.model_copy(update={"name": recipe.name})
        with self._work() as work:
            image = self._build_in(work, recipe, ref, key, progress)
            with self._lock():
                self._commit(work / "blob", image)
                self._write_json(self.root / "cache" / f"{key}.json", {"digest": image.digest})
        progress(f"stored {recipe.name} ({image.digest[:12]})")
        return image

    def import_file(self, path: Path, name: str, progress: Progress) -> ImportResult:
        """Store what a community hands over: a disk (qcow2, raw, vmdk, vdi, vhdx, vhd), an
        .ovf beside its disks or an .ova, one qcow2 image per disk that boots by its
        bootloader. All or nothing: a damaged second disk leaves no image stored."""
        _check_name(name)
        if not path.is_file():
            raise NotFoundError(f"no file {path}", hint="give the path of a disk image file")
        self._check_free(name)
        with self._work() as work:
            progress(f"inspecting {path.name}")
            machine = package.open_machine(path, work, progress)
            names = disk_names(name, len(machine.disks))
            for other in names[1:]:
                _check_name(other)
                self._check_free(other)
            formats = []
            for disk in machine.disks:
                progress(f"checking {disk.name}")
                fmt = qemu.detect(disk)
                qemu.check(disk, fmt)
                formats.append(fmt)
            images = [
                self._import_disk(work / f"blob{i}", disk, fmt, image, ref, progress)
                for i, (disk, fmt, image, ref) in enumerate(
                    zip(machine.disks, formats, names, machine.refs, strict=True)
                )
            ]
            with self._lock():
                for image in images:
                    self._check_free(image.name)
                for i, image in enumerate(images):
                    self._commit(work / f"blob{i}", image)
        for image in images:
            progress(f"stored {image.name} ({image.digest[:12]})")
        return ImportResult(images=tuple(images), hints=machine.hints)

    def _import_disk(
        self, blob: Path, disk: Path, fmt: str, name: str, ref: str, progress: Progress
    ) -> Image:
        blob.mkdir()
        # An imported disk is addressed by the checksum of the file handed over (the same
        # file always converts to the same disk), taken while qemu-img converts it: both
        # read the same file (the second read comes from the page cache) and hashing
        # releases the GIL, so an import costs little more than the conversion itself.
        label = f"converting {disk.name} ({qemu.shown(fmt)}) to qcow2"
        progress(f"{label}, checksumming it")
        size = disk.stat().st_size
        steps = percent_steps(progress, label)  # a line per tenth, for large files
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(qemu.sha256, disk)
            qemu.convert(
                disk,
                blob / DISK,
                src_format=fmt,
                percent=lambda p: steps(int(size * p / 100), size),
            )
            digest = hashing.result()
        source = Source(kind=SourceKind.IMPORT, ref=ref, sha256=digest)
        head = qemu.head(blob / DISK, "qcow2", blob.parent / f"{blob.name}.head", HEAD_SECTORS)
        image = self._describe(blob, name, Boot.BOOTLOADER, source, digest=digest)
        return image.model_copy(update={"firmware": required_firmware(head)})

    def _check_free(self, name: str) -> None:
        if self._name_file(name).exists():
            raise ConflictError(
                f"an image named '{name}' exists already",
                hint=f"choose another --name, or remove it first: lab image rm {name}",
            )

    def remove(self, name: str, used_by: Sequence[str]) -> None:
        """Forget a name; delete its blob when no other name points at it."""
        image = self.get(name)
        if used_by:
            raise ConflictError(
                f"image '{name}' is in use by {', '.join(used_by)}",
                hint="take those labs down first (lab down LAB); delete those templates"
                " (lab template delete T)",
            )
        with self._lock():
            self._name_file(name).unlink()
            others = [
                p
                for p in (self.root / "names").glob("*.json")
                if self._digest_of(p) == image.digest
            ]
            if not others:
                for entry in (self.root / "cache").glob("*.json"):
                    if self._digest_of(entry) == image.digest:
                        entry.unlink()
                _rmtree(self._blob(image.digest))

    def remove_builds(self, digests: Sequence[str]) -> tuple[str, ...]:
        """Delete the builds `digests` that no name points at (checked again under the
        lock: a build finished meanwhile is kept), with their cache entries; the ones
        deleted."""
        removed: list[str] = []
        if not digests:
            return ()
        with self._lock():
            named = self.named_digests()
            cache = self.root / "cache"
            for digest in digests:
                blob = self._blob(digest)
                if digest in named or not blob.is_dir():
                    continue
                for entry in cache.glob("*.json") if cache.is_dir() else ():
                    if self._digest_of(entry) == digest:
                        entry.unlink()
                _rmtree(blob)
                removed.append(digest)
        return tuple(removed)

    # -- internals -----------------------------------------------------------------------

    def _build_in(
        self, work: Path, recipe: Recipe, ref: str, key: str, progress: Progress
    ) -> Image:
        rootfs, blob = work / "rootfs", work / "blob"
        blob.mkdir()
        progress(f"bootstrapping Debian {recipe.suite} with {len(recipe.packages)} packages")
        steps.bootstrap(recipe, rootfs, work, self.settings.debian_mirror)
        progress("configuring the guest (networkd, cloud-init, ssh, console)")
        steps.configure(rootfs)
        packages = steps.package_versions(rootfs, recipe.packages)
        steps.extract_boot(rootfs, blob)
        progress(f"making the {recipe.size.human_readable()} ext4 disk and converting to qcow2")
        steps.make_disk(rootfs, int(recipe.size), work / "disk.raw", blob / DISK)
        progress("checksumming the disk")
        source = Source(kind=SourceKind.RECIPE, ref=ref, sha256=key)
        image = self._describe(blob, recipe.name, Boot.KERNEL, source)
        return image.model_copy(
            update={
                "kernel": KERNEL,
                "initrd": INITRD,
                "cmdline": recipe.cmdline,
                "packages": packages,
            }
        )

    def _describe(
        self, blob: Path, name: str, boot: Boot, source: Source, digest: str | None = None
    ) -> Image:
        """The image of the disk in `blob`, addressed by `digest` (default: the disk's own
        sha256)."""
        disk = blob / DISK
        return Image(
            name=name,
            digest=digest or qemu.sha256(disk),
            boot=boot,
            virtual_size=int(qemu.info(disk)["virtual-size"]),
            disk_size=disk.stat().st_size,
            created=datetime.now(UTC).replace(microsecond=0),
            source=source,
        )

    def _commit(self, staged: Path, image: Image) -> None:
        """Move a finished blob into place (caller holds the lock) and point the name at it."""
        (staged / META).write_text(image.model_dump_json(indent=2) + "\n")
        for f in staged.iterdir():
            f.chmod(0o444)
        staged.chmod(0o755)
        target = self._blob(image.digest)
        if target.exists():  # same bytes stored before (e.g. the same file imported twice)
            _rmtree(staged)
        else:
            staged.rename(target)
        self._point(image.name, image.digest)

    def _point(self, name: str, digest: str) -> None:
        path = self._name_file(name)
        if not path.exists() or self._digest_of(path) != digest:
            self._write_json(path, {"name": name, "digest": digest})

    def _cached(self, key: str) -> Image | None:
        # Trust image.json: re-hashing a 500 MB disk on every build would defeat the cache.
        entry = self.root / "cache" / f"{key}.json"
        if not entry.exists():
            return None
        digest = self._digest_of(entry)
        return self._load(digest) if (self._blob(digest) / META).is_file() else None

    def _load(self, digest: str) -> Image:
        try:
            return Image.model_validate_json((self._blob(digest) / META).read_text())
        except FileNotFoundError:
            raise HostError(
                f"image blob {digest[:12]} is missing from {self.root}",
                hint="remove the name and build or import the image again",
            ) from None

    def _kernel_boot(self, image: Image, file: str | None) -> str:
        if image.boot is not Boot.KERNEL or file is None:
            raise InvalidError(
                f"image '{image.name}' boots with its own bootloader; it has no kernel",
                hint="boot it from its disk",
            )
        return file

    def _blob(self, digest: str) -> Path:
        return self.root / "blobs" / digest

    def _name_file(self, name: str) -> Path:
        _check_name(name)
        return self.root / "names" / f"{name}.json"

    @staticmethod
    def _digest_of(path: Path) -> str:
        return str(json.loads(path.read_text())["digest"])

    @staticmethod
    def _write_json(path: Path, data: dict[str, str]) -> None:
        """Atomic: readers see the old file or the new one, never half of one."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

    def _ensure_layout(self) -> None:
        for d in (self.settings.home, self.root):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)  # libvirt-qemu must traverse down to the blobs
        for sub in ("blobs", "names", "cache", "tmp"):
            (self.root / sub).mkdir(mode=0o755, exist_ok=True)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.root / ".lock").open("a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def _work(self) -> Iterator[Path]:
        """A fresh work directory in tmp/, removed afterwards whatever happens."""
        self._ensure_layout()
        tmp = self.root / "tmp"
        _remove_stale(tmp)
        work = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{os.getpid()}-"))
        try:
            yield work
        finally:
            _rmtree(work)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidError(
            f"{quote(name)} is not a valid image name",
            hint="use up to 63 lower-case letters, digits, '.', '_' and '-'",
        )


def _remove_stale(tmp: Path) -> None:
    """Remove work directories of builds whose process is gone (killed, crashed)."""
    for work in tmp.iterdir():
        pid = work.name.split("-", 1)[0]
        if not (pid.isdigit() and process_alive(int(pid))):
            _rmtree(work)


def _rmtree(path: Path) -> None:
    # Never delete through a mount point (a chroot's /proc or /dev left behind).
    real = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f]
    if any(m == real or m.startswith(real + "/") for m in mounts):
        raise HostError(f"{path} has file systems mounted inside", hint=f"umount -R {path}")
    if path.exists():
        shutil.rmtree(path)
