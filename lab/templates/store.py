"""The template store under `settings.templates_dir`, with the image store's rules.

    blobs/<digest>       one file each: a frozen disk layer, a memory state, an NVRAM
                         (0444; the digest is the sha256 of the file); two templates
                         holding the same file share it
    names/<name>.json    a template's manifest (lab.templates.model.Template)
    tmp/                 files being copied in (when a hard link cannot be made)

A file is linked (or copied, then renamed) into place complete, and a manifest is written
last, atomically: a failed or killed `create` leaves no template, only unreferenced blobs,
which the next `remove` (or `create`) deletes. Blobs are never written after that; a lab
cloned from a template runs on thin overlays over them and restores its memory states
without copying them (lab.driver.saved_state).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from lab.errors import ConflictError, InvalidError, NotFoundError, quote
from lab.settings import Settings
from lab.templates.model import TEMPLATE_NAME, TEMPLATE_RULE, Template, TemplateMachine


def check_template_name(name: str) -> str:
    """The name, or InvalidError: it becomes a file name and a word in URLs."""
    if not TEMPLATE_NAME.fullmatch(name):
        raise InvalidError(f"{quote(name)} is not a template name", hint=TEMPLATE_RULE)
    return name


class TemplateStore:
    def __init__(self, settings: Settings) -> None:
        self.root = settings.templates_dir
        self._held = 0  # how deep this store holds its lock (`lock` nests)

    # -- reading -------------------------------------------------------------------------

    def find(self, name: str) -> Template | None:
        path = self._manifest(check_template_name(name))
        try:
            return Template.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None

    def get(self, name: str) -> Template:
        found = self.find(name)
        if found is None:
            known = [t.name for t in self.templates()]
            raise NotFoundError(
                f"no template named {quote(name)}",
                hint=f"the templates: {', '.join(known)}"
                if known
                else "make one from a verified, baselined lab: lab template create LAB --name T",
            )
        return found

    def templates(self) -> list[Template]:
        names = self.root / "names"
        if not names.is_dir():
            return []
        found = []
        for path in sorted(names.glob("*.json")):
            if TEMPLATE_NAME.fullmatch(path.stem):
                found.append(Template.model_validate_json(path.read_text()))
        return found

    def blob(self, digest: str) -> Path:
        return self.root / "blobs" / digest

    def size_of(self, digests: set[str]) -> int:
        """Bytes the blobs take on their file system."""
        total = 0
        for digest in digests:
            with contextlib.suppress(FileNotFoundError):
                total += self.blob(digest).stat().st_blocks * 512
        return total

    # -- writing -------------------------------------------------------------------------

    def put_file(self, path: Path) -> str:
        """Store the file at `path` (never written again by anyone) as a blob: its digest."""
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        target = self.blob(digest)
        if target.exists():
            return digest
        self._ensure_layout()
        staged = self.root / "tmp" / f"{digest}.{os.getpid()}"
        staged.unlink(missing_ok=True)
        try:
            os.link(path, staged)  # the same file system: no copy at all
        except OSError:
            shutil.copyfile(path, staged)
        staged.chmod(0o444)
        os.replace(staged, target)
        return digest

    def put_manifest(self, template: Template) -> None:
        """Record the template (its blobs are in place); ConflictError if the name is taken.
        Called under `lock`, which the whole making of a template holds (a `remove` meanwhile
        would take its blobs, not yet named by any manifest, for leftovers)."""
        self._ensure_layout()
        path = self._manifest(template.name)
        if path.exists():
            raise ConflictError(
                f"a template named {quote(template.name)} exists already",
                hint="choose another --name, or delete it first: lab template delete"
                f" {template.name}",
            )
        staged = path.with_name(path.name + ".new")
        staged.write_text(template.model_dump_json())
        os.replace(staged, path)

    def remove(self, name: str) -> None:
        """Forget the template and delete every blob no other template holds."""
        with self.lock():
            self._manifest(name).unlink(missing_ok=True)
            self.collect()

    def collect(self) -> list[str]:
        """Delete blobs no template names (what a failed `create` left); their digests."""
        blobs = self.root / "blobs"
        if not blobs.is_dir():
            return []
        kept = {d for t in self.templates() for d in digests_of(t.machines)}
        removed = []
        for blob in blobs.iterdir():
            if blob.name not in kept:
                blob.unlink(missing_ok=True)
                removed.append(blob.name)
        return removed

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The store's lock; held again through the same store, it nests (a `create`
        holds it from its first blob to its manifest, so no `remove` collects its blobs)."""
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        self._ensure_layout()
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held = 1
            yield
        finally:
            self._held = 0
            os.close(fd)

    def _manifest(self, name: str) -> Path:
        return self.root / "names" / f"{name}.json"

    def _ensure_layout(self) -> None:
        # QEMU (libvirt-qemu) reads the frozen layers under a clone's overlays.
        for sub in ("", "blobs", "names", "tmp"):
            (self.root / sub).mkdir(mode=0o755, parents=True, exist_ok=True)
        for sub in ("", "blobs"):
            (self.root / sub).chmod(0o755)
        (self.root / "names").chmod(0o700)  # manifests hold the source lab's plan


def digests_of(machines: Iterable[TemplateMachine]) -> set[str]:
    """Every blob the template's machines hold."""
    found: set[str] = set()
    for machine in machines:
        found |= {layer.digest for layer in machine.layers}
        found |= {d for d in (machine.memory, machine.nvram) if d is not None}
    return found
