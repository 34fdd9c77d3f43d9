"""The unification report: each community's software against the recommended stack. Pure.

The recommended stack is the one profile marked `recommended: true`. For every other
profile: the products of the stack it lacks (missing), the products it has beyond the
stack (extra), the products both have at other versions, and the products both have that
read or write other data formats. Products are matched by name whatever the case;
inspected packages (kind `package`) are left out unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from lab.catalogue.entries import ProfileSoftware, is_package, product_key
from lab.catalogue.views import ordered
from lab.errors import ConflictError, NotFoundError, quote
from lab.profile.software import Software, SoftwareKind

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ProductBrief(BaseModel):
    """A product as the report names it: its versions joined by ', ' (empty: not known)."""

    model_config = _FROZEN

    product: str
    version: str
    kind: SoftwareKind


class VersionDifference(BaseModel):
    model_config = _FROZEN

    product: str
    recommended: str = Field(description="The stack's version(s), joined by ', '")
    theirs: tuple[str, ...] = Field(description="The community's known versions")


class FormatSet(BaseModel):
    model_config = _FROZEN

    reads: tuple[str, ...]
    writes: tuple[str, ...]


class FormatDifference(BaseModel):
    model_config = _FROZEN

    product: str
    recommended: FormatSet
    theirs: FormatSet


class CommunityDifference(BaseModel):
    """How one community's software differs from the recommended stack."""

    model_config = _FROZEN

    profile: str
    community: str
    title: str
    missing: tuple[ProductBrief, ...] = Field(description="In the stack, not theirs")
    extra: tuple[ProductBrief, ...] = Field(description="Theirs, not in the stack")
    versions: tuple[VersionDifference, ...]
    formats: tuple[FormatDifference, ...]

    @property
    def same(self) -> bool:
        """Whether the community runs the stack as it is."""
        return not (self.missing or self.extra or self.versions or self.formats)


class Unification(BaseModel):
    """The report: the recommended profile and every other community's differences."""

    model_config = _FROZEN

    recommended: str
    communities: tuple[CommunityDifference, ...]


def recommended_profile(profiles: Iterable[ProfileSoftware]) -> ProfileSoftware:
    """The one profile marked `recommended: true`; ConflictError when none or several are."""
    marked = [p for p in profiles if p.recommended]
    if len(marked) == 1:
        return marked[0]
    if not marked:
        raise ConflictError(
            "no profile is marked as the recommended stack",
            hint="mark the recommended stack's profile with `recommended: true`"
            " (a profile that does not load is not counted: `lab validate` it)",
        )
    names = ", ".join(sorted(p.name for p in marked))
    raise ConflictError(
        f"{len(marked)} profiles are marked as the recommended stack: {names}",
        hint="keep `recommended: true` in one of them only",
    )


@dataclass
class _Product:
    """One product of one profile, gathered over its machines."""

    name: str
    kind: SoftwareKind
    versions: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)

    def brief(self) -> ProductBrief:
        return ProductBrief(product=self.name, version=_joined(self.versions), kind=self.kind)

    def formats(self) -> FormatSet:
        return FormatSet(reads=tuple(sorted(self.reads)), writes=tuple(sorted(self.writes)))


def _joined(versions: Iterable[str]) -> str:
    return ", ".join(sorted(versions))


def products(profile: ProfileSoftware, include_packages: bool = False) -> dict[str, _Product]:
    """The profile's products by `product_key`, each over all its machines."""
    found: dict[str, _Product] = {}
    for machine in profile.machines:
        for item in machine.software:
            if is_package(item) and not include_packages:
                continue
            _add(found, item)
    return found


def _add(found: dict[str, _Product], item: Software) -> None:
    product = found.setdefault(product_key(item.product), _Product(item.product, item.kind))
    if item.version:
        product.versions.add(item.version)
    product.reads.update(item.formats.reads)
    product.writes.update(item.formats.writes)


def stack(
    profiles: Sequence[ProfileSoftware], include_packages: bool = False
) -> list[ProductBrief]:
    """The recommended stack's products, by kind then name (ConflictError as
    `recommended_profile`)."""
    ours = products(recommended_profile(profiles), include_packages)
    return [p.brief() for p in sorted(ours.values(), key=_order)]


def _order(product: _Product) -> tuple[str, str]:
    return (product.kind.value, product_key(product.name))


def unification(
    profiles: Sequence[ProfileSoftware],
    *,
    include_packages: bool = False,
    community: str | None = None,
) -> Unification:
    """Every community's differences from the recommended stack (only the one whose
    profile or community is named `community`, if given: NotFoundError if none is)."""
    recommended = recommended_profile(profiles)
    ours = products(recommended, include_packages)
    others = [p for p in ordered(profiles) if p is not recommended]
    if community is not None:
        others = [p for p in others if community in (p.name, p.community)]
        if not others:
            raise NotFoundError(
                f"no community {quote(community)} beside the recommended stack",
                hint="`lab catalogue` lists the profiles and their communities",
            )
    return Unification(
        recommended=recommended.name,
        communities=tuple(_difference(p, ours, include_packages) for p in others),
    )


def _difference(
    profile: ProfileSoftware, ours: dict[str, _Product], include_packages: bool
) -> CommunityDifference:
    theirs = products(profile, include_packages)
    both = sorted(ours.keys() & theirs.keys(), key=lambda k: _order(ours[k]))
    return CommunityDifference(
        profile=profile.name,
        community=profile.community,
        title=profile.title,
        missing=tuple(
            ours[k].brief()
            for k in sorted(ours.keys() - theirs.keys(), key=lambda k: _order(ours[k]))
        ),
        extra=tuple(
            theirs[k].brief()
            for k in sorted(theirs.keys() - ours.keys(), key=lambda k: _order(theirs[k]))
        ),
        versions=tuple(
            VersionDifference(
                product=ours[k].name,
                recommended=_joined(ours[k].versions),
                theirs=tuple(sorted(theirs[k].versions)),
            )
            for k in both
            if ours[k].versions and ours[k].versions != theirs[k].versions
        ),
        formats=tuple(
            FormatDifference(
                product=ours[k].name, recommended=ours[k].formats(), theirs=theirs[k].formats()
            )
            for k in both
            if ours[k].formats() != theirs[k].formats()
        ),
    )
