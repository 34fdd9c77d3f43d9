"""The catalogue's use cases, for the API and the CLI: each view of the profiles
directory as it is now, computed once per state of the directory, day and options
(lab.catalogue.loader keeps both)."""

from __future__ import annotations

from datetime import date

from lab.catalogue import export, unification, views
from lab.catalogue.entries import CatalogueEntry
from lab.catalogue.loader import load_catalogue
from lab.catalogue.unification import ProductBrief, Unification
from lab.catalogue.views import FormatsView, Matrix, Permissions, ProductView
from lab.profile.software import SoftwareKind
from lab.settings import Settings


def entries(settings: Settings, today: date) -> tuple[CatalogueEntry, ...]:
    return load_catalogue(settings).entries(today)


def matrix(
    settings: Settings,
    today: date,
    *,
    kind: SoftwareKind | None = None,
    include_packages: bool = False,
) -> Matrix:
    catalogue = load_catalogue(settings)
    return catalogue.memo(
        ("matrix", today, kind, include_packages),
        lambda: views.matrix(
            catalogue.profiles,
            catalogue.entries(today),
            catalogue.invalid,
            kind=kind,
            include_packages=include_packages,
        ),
    )


def product(settings: Settings, today: date, name: str) -> ProductView:
    """One product (NotFoundError when no profile lists it)."""
    catalogue = load_catalogue(settings)
    return catalogue.memo(
        ("product", today, name), lambda: views.product_view(catalogue.entries(today), name)
    )


def permissions(settings: Settings, today: date, *, include_packages: bool = False) -> Permissions:
    catalogue = load_catalogue(settings)
    return catalogue.memo(
        ("permissions", today, include_packages),
        lambda: views.outstanding(catalogue.entries(today), include_packages=include_packages),
    )


def formats(settings: Settings, today: date) -> FormatsView:
    catalogue = load_catalogue(settings)
    return catalogue.memo(("formats", today), lambda: views.formats(catalogue.entries(today)))


def report(
    settings: Settings, *, community: str | None = None, include_packages: bool = False
) -> Unification:
    """The unification report (ConflictError without exactly one recommended profile)."""
    catalogue = load_catalogue(settings)
    return catalogue.memo(
        ("report", community, include_packages),
        lambda: unification.unification(
            catalogue.profiles, community=community, include_packages=include_packages
        ),
    )


def stack(settings: Settings, *, include_packages: bool = False) -> list[ProductBrief]:
    """The recommended stack's products."""
    catalogue = load_catalogue(settings)
    return catalogue.memo(
        ("stack", include_packages),
        lambda: unification.stack(catalogue.profiles, include_packages),
    )


def export_csv(settings: Settings, today: date) -> str:
    catalogue = load_catalogue(settings)
    return catalogue.memo(("csv", today), lambda: export.to_csv(catalogue.entries(today)))
