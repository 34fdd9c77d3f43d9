"""What uses each stored image, and what may go: the removal of an image name nothing
uses, and the prune of old builds.

An image name points at its newest build (a blob of the store); a rebuild moves the name
and leaves the old build behind for the labs and templates whose disks sit on it. Those
builds were never deleted: `prune` deletes the ones nothing uses any more, and the lab
servers' copies of every build the store no longer holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from lab.base import Frozen
from lab.host.images import PrunedCopies, prune_copies
from lab.images.model import Image
from lab.images.store import ImageStore
from lab.settings import Settings
from lab.store.state import StateStore, labs_using_image
from lab.templates.store import TemplateStore


class ImageUse(Frozen):
    """A named image and what uses it: "lab NAME" and "template NAME" entries."""

    image: Image
    used_by: tuple[str, ...]


class PrunedBuild(Frozen):
    """An old build that was (or would be) deleted."""

    digest: str
    source: str  # "recipe:debian-12.yaml", "import:disk.vmdk"
    created: datetime
    bytes: int


class PruneResult(Frozen):
    """The builds deleted here, and the copies of builds this store no longer holds
    deleted from the lab servers (lab.host.images.prune_copies)."""

    builds: tuple[PrunedBuild, ...]
    bytes_freed: int
    dry_run: bool
    copies: PrunedCopies = PrunedCopies()


class _Users(Frozen):
    """Who uses what, read once: image names and build digests, per lab and template."""

    names: dict[str, tuple[str, ...]]  # image name -> "lab X", "template T"
    digests: frozenset[str]  # the builds labs' and templates' disks sit on


def _users(settings: Settings) -> _Users:
    names: dict[str, list[str]] = {}
    digests: set[str] = set()
    labs = StateStore.open(settings).list_labs() if settings.state_db.exists() else []
    for lab in labs:
        for image in sorted(lab.images):
            names.setdefault(image, []).append(f"lab {lab.name}")
        digests.update(lab.image_digests.values())
    for template in TemplateStore(settings).templates():
        images = {i for m in template.plan.machines for _, i in m.images}
        for image in sorted(images):
            names.setdefault(image, []).append(f"template {template.name}")
        digests.update(template.image_digests.values())
    return _Users(names={k: tuple(v) for k, v in names.items()}, digests=frozenset(digests))


def images_with_users(settings: Settings) -> list[ImageUse]:
    """Every named image of the store with the labs and templates that use it."""
    users = _users(settings)
    return [
        ImageUse(image=i, used_by=users.names.get(i.name, ())) for i in ImageStore(settings).list()
    ]


def users_of(settings: Settings, name: str) -> tuple[str, ...]:
    """The labs and templates that use the image named `name` (the labs through the state
    store's index of their images)."""
    labs = [f"lab {lab}" for lab in labs_using_image(settings, name)]
    templates = [
        f"template {t.name}"
        for t in TemplateStore(settings).templates()
        if any(image == name for m in t.plan.machines for _, image in m.images)
    ]
    return (*labs, *templates)


def remove(settings: Settings, name: str) -> None:
    """Forget an image name (and its build when no other name points at it); NotFoundError
    for no such image, ConflictError naming the labs and templates while any uses it."""
    store = ImageStore(settings)
    store.get(name)  # NotFoundError first
    store.remove(name, used_by=users_of(settings, name))


def prunable(builds: Iterable[str], named: Iterable[str], used: Iterable[str]) -> list[str]:
    """The rule (pure): the builds no name points at (a name points at the newest build of
    its image) and no lab's or template's disk sits on."""
    keep = set(named) | set(used)
    return sorted(d for d in builds if d not in keep)


def prune(settings: Settings, dry_run: bool = False) -> PruneResult:
    """Delete the old builds nothing uses (`prunable`), then the lab servers' copies of
    every build the store no longer holds (of these, and of builds removed before); with
    `dry_run`, only say which."""
    store = ImageStore(settings)
    builds: Mapping[str, Image] = store.builds()
    chosen = prunable(builds, store.named_digests(), _users(settings).digests)
    sizes = {d: store.build_bytes(d) for d in chosen}
    if not dry_run:
        chosen = list(store.remove_builds(chosen))
    pruned = tuple(
        PrunedBuild(
            digest=d,
            source=f"{builds[d].source.kind}:{builds[d].source.ref}",
            created=builds[d].created,
            bytes=sizes[d],
        )
        for d in chosen
    )
    kept = set(builds) - {b.digest for b in pruned}
    return PruneResult(
        builds=pruned,
        bytes_freed=sum(b.bytes for b in pruned),
        dry_run=dry_run,
        copies=prune_copies(settings, kept, dry_run=dry_run),
    )
