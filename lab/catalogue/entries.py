"""The catalogue's rows: one entry per profile, machine and software product.

`ProfileSoftware` is what the catalogue keeps of a loaded profile (its names and its
machines' software lists, nothing that depends on the day); `flatten` turns those into
entries for a given day (whether each product is out of its vendor's support then).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from lab.profile.models import Profile
from lab.profile.software import Formats, Permission, Software, SoftwareKind

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class MachineSoftware(BaseModel):
    """One machine's software list."""

    model_config = _FROZEN

    machine: str
    software: tuple[Software, ...] = ()


class ProfileSoftware(BaseModel):
    """What the catalogue keeps of one profile of the directory."""

    model_config = _FROZEN

    name: str = Field(description="The profile's file name without .yaml")
    community: str = Field(description="The community's name (the lab name it defaults to)")
    title: str = Field(description="The community's official name")
    recommended: bool = False
    machines: tuple[MachineSoftware, ...] = ()

    @classmethod
    def of(cls, name: str, profile: Profile) -> ProfileSoftware:
        return cls(
            name=name,
            # as lab.labs.plan.profile_name names it (not imported: the CLI starts faster)
            community=profile.community.name if profile.community else "abstract",
            title=profile.community.title if profile.community else "",
            recommended=profile.recommended,
            machines=tuple(
                MachineSoftware(machine=m.name, software=m.software) for m in profile.machines
            ),
        )


class InvalidProfile(BaseModel):
    """A profile of the directory that does not load, and its first problem."""

    model_config = _FROZEN

    name: str
    error: str


class CatalogueEntry(BaseModel):
    """One product on one machine of one profile."""

    model_config = _FROZEN

    profile: str
    community: str
    title: str
    machine: str
    product: str
    vendor: str
    version: str = Field(description="Empty: not known")
    kind: SoftwareKind
    licence: str
    permission: Permission
    formats: Formats
    support_ends: date | None
    out_of_support: bool = Field(description="The vendor's support ended before today")
    package: str | None


def product_key(name: str) -> str:
    """How products are matched across profiles: by name, whatever the case."""
    return " ".join(name.split()).casefold()


def flatten(profiles: Iterable[ProfileSoftware], today: date) -> tuple[CatalogueEntry, ...]:
    """Every product of every machine of `profiles`, in their order, as of `today`."""
    made: list[CatalogueEntry] = []
    for profile in profiles:
        for machine in profile.machines:
            for item in machine.software:
                # Built without validating again: every value comes from validated models.
                made.append(
                    CatalogueEntry.model_construct(
                        profile=profile.name,
                        community=profile.community,
                        title=profile.title,
                        machine=machine.machine,
                        product=item.product,
                        vendor=item.vendor,
                        version=item.version,
                        kind=item.kind,
                        licence=item.licence,
                        permission=item.permission,
                        formats=item.formats,
                        support_ends=item.support_ends,
                        out_of_support=item.out_of_support(today),
                        package=item.package,
                    )
                )
    return tuple(made)


def is_package(item: Software | CatalogueEntry) -> bool:
    """An installed package as a disk's inspection found it (not a product described)."""
    return item.kind is SoftwareKind.PACKAGE
