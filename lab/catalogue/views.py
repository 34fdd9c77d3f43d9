"""Views of the catalogue's entries: the product × community matrix, one product, the
permissions still outstanding, and the data formats in use. Pure.

Products are matched by name whatever the case (`product_key`); a product is shown by
the spelling of the recommended stack when it has the product, else by the spelling most
profiles use. Inspected packages (kind `package`) are left out unless asked for: a disk's
package list has hundreds of them and would drown the products.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from lab.catalogue.entries import (
    CatalogueEntry,
    InvalidProfile,
    ProfileSoftware,
    is_package,
    product_key,
)
from lab.errors import NotFoundError, quote
from lab.profile.software import SoftwareKind

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_T = TypeVar("_T")


class ProfileBrief(BaseModel):
    """A profile as the matrix names it."""

    model_config = _FROZEN

    name: str
    community: str
    title: str
    recommended: bool


class ProductRow(BaseModel):
    """One product across the profiles: who runs which versions."""

    model_config = _FROZEN

    product: str
    kind: SoftwareKind
    vendors: tuple[str, ...]
    recommended_version: str | None = Field(
        description="The recommended stack's version; null: it has not the product"
    )
    versions: dict[str, tuple[str, ...]] = Field(
        description="Per profile that has the product, its known versions (empty: not known)"
    )


class Matrix(BaseModel):
    """The product × community matrix."""

    model_config = _FROZEN

    recommended: str | None = Field(description="The recommended profile; null: none or several")
    profiles: tuple[ProfileBrief, ...]
    products: tuple[ProductRow, ...]
    invalid: tuple[InvalidProfile, ...]


class ProductView(BaseModel):
    """One product: every machine of every profile that runs it."""

    model_config = _FROZEN

    product: str
    entries: tuple[CatalogueEntry, ...]


class Permissions(BaseModel):
    """The entries whose vendor's permission is needed and not granted yet."""

    model_config = _FROZEN

    entries: tuple[CatalogueEntry, ...]


class FormatUse(BaseModel):
    model_config = _FROZEN

    profile: str
    product: str


class FormatRow(BaseModel):
    """One data format: which profiles' products read it and which write it."""

    model_config = _FROZEN

    format: str
    reads: tuple[FormatUse, ...]
    writes: tuple[FormatUse, ...]


class FormatsView(BaseModel):
    model_config = _FROZEN

    formats: tuple[FormatRow, ...]


def selected(
    entries: Iterable[CatalogueEntry],
    kind: SoftwareKind | None = None,
    include_packages: bool = False,
) -> list[CatalogueEntry]:
    """The entries of `kind` (any kind but `package` when None, unless `include_packages`)."""
    if kind is not None:
        return [e for e in entries if e.kind is kind]
    if include_packages:
        return list(entries)
    return [e for e in entries if not is_package(e)]


def recommended_name(profiles: Iterable[ProfileSoftware]) -> str | None:
    """The one profile marked recommended; None when there is none or more than one."""
    marked = [p.name for p in profiles if p.recommended]
    return marked[0] if len(marked) == 1 else None


def ordered(profiles: Iterable[ProfileSoftware]) -> list[ProfileSoftware]:
    """The recommended stack first, then the others by name."""
    return sorted(profiles, key=lambda p: (not p.recommended, p.name))


def matrix(
    profiles: Sequence[ProfileSoftware],
    entries: Iterable[CatalogueEntry],
    invalid: Sequence[InvalidProfile] = (),
    *,
    kind: SoftwareKind | None = None,
    include_packages: bool = False,
) -> Matrix:
    """Every product (by name, whatever the case) and the versions each profile runs."""
    recommended = recommended_name(profiles)
    groups: dict[str, list[CatalogueEntry]] = defaultdict(list)
    for entry in selected(entries, kind, include_packages):
        groups[product_key(entry.product)].append(entry)
    rows = [_row(group, recommended) for group in groups.values()]
    rows.sort(key=lambda r: (r.kind.value, product_key(r.product)))
    return Matrix(
        recommended=recommended,
        profiles=tuple(
            ProfileBrief(
                name=p.name, community=p.community, title=p.title, recommended=p.recommended
            )
            for p in ordered(profiles)
        ),
        products=tuple(rows),
        invalid=tuple(invalid),
    )


def _row(group: list[CatalogueEntry], recommended: str | None) -> ProductRow:
    versions: dict[str, set[str]] = {}
    for entry in group:
        known = versions.setdefault(entry.profile, set())
        if entry.version:
            known.add(entry.version)
    ours = [e for e in group if e.profile == recommended]
    recommended_version = None
    if ours:
        recommended_version = ", ".join(sorted({e.version for e in ours if e.version}))
    return ProductRow.model_construct(
        product=display_name(group, recommended),
        kind=_most_common([e.kind for e in ours or group]),
        vendors=tuple(sorted({e.vendor for e in group if e.vendor})),
        recommended_version=recommended_version,
        versions={name: tuple(sorted(found)) for name, found in sorted(versions.items())},
    )


def display_name(group: Sequence[CatalogueEntry], recommended: str | None) -> str:
    """The spelling a product is shown by: the recommended stack's, else the commonest."""
    ours = [e.product for e in group if e.profile == recommended]
    return _most_common(ours or [e.product for e in group])


def _most_common(values: Sequence[_T]) -> _T:
    """The value given most often; of equally common ones, the first given."""
    counts = Counter(values)
    return max(counts, key=counts.__getitem__)


def product_view(entries: Iterable[CatalogueEntry], product: str) -> ProductView:
    """Every entry of `product` (whatever the case, packages included); NotFoundError if
    no profile has it."""
    key = product_key(product)
    found = [e for e in entries if product_key(e.product) == key]
    if not found:
        raise NotFoundError(
            f"no profile lists the product {quote(product, 80)}",
            hint="`lab catalogue` (GET /api/v1/catalogue) lists the products by name",
        )
    found.sort(key=lambda e: (e.profile, e.machine))
    return ProductView(product=display_name(found, None), entries=tuple(found))


def outstanding(
    entries: Iterable[CatalogueEntry], *, include_packages: bool = False
) -> Permissions:
    """The entries whose vendor's permission is needed and not granted yet (none asked
    for, or requested), by product then profile."""
    found = [e for e in selected(entries, None, include_packages) if e.permission.outstanding]
    found.sort(key=lambda e: (product_key(e.product), e.profile, e.machine))
    return Permissions(entries=tuple(found))


def formats(entries: Iterable[CatalogueEntry]) -> FormatsView:
    """Every data format any product reads or writes, with who reads and who writes it."""
    reads: dict[str, set[tuple[str, str]]] = defaultdict(set)
    writes: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for entry in entries:
        for name in entry.formats.reads:
            reads[name].add((entry.profile, entry.product))
        for name in entry.formats.writes:
            writes[name].add((entry.profile, entry.product))

    def uses(found: set[tuple[str, str]]) -> tuple[FormatUse, ...]:
        return tuple(FormatUse(profile=p, product=n) for p, n in sorted(found))

    return FormatsView(
        formats=tuple(
            FormatRow(format=name, reads=uses(reads[name]), writes=uses(writes[name]))
            for name in sorted(reads.keys() | writes.keys())
        )
    )
