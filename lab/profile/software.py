"""The software products a machine carries, as data: what a community runs.

A profile's machine lists them under `software`: product, vendor, version, kind, licence,
the state of the vendor's permission to use it in the lab, and the data formats it reads
and writes. The lab does not install anything from this list (roles do that); the
catalogue (lab.catalogue) puts the lists of every profile side by side.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from lab.profile.types import PlainText, fail, shown

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def _matching(kind: str, regex: str, rule: str, *, empty: bool = False) -> AfterValidator:
    """A validator of text that must match `regex` (or be empty, where `empty`)."""
    pattern = re.compile(regex)

    def check(value: str) -> str:
        if (value or not empty) and not pattern.fullmatch(value):
            raise fail(kind, f"{shown(value)} is not {rule}")
        return value

    return AfterValidator(check)


def _bounded(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit:
            raise fail("text", f"at most {limit} characters here")
        return value

    return AfterValidator(check)


FormatName = Annotated[
    str,
    _matching(
        "format",
        r"^[a-z0-9][a-z0-9.+_-]{0,31}$",
        "a format name: use 1 to 32 lowercase letters, digits, '.', '+', '_' and '-'"
        " (a file extension or a short name: docx, pdf, xml-edo)",
    ),
]
Version = Annotated[
    str,
    _matching(
        "version",
        r"^[A-Za-z0-9][A-Za-z0-9.+~:_-]{0,63}$",
        "a version: use up to 64 letters, digits and . + ~ : _ -"
        " (leave it out when the version is not known)",
        empty=True,
    ),
]
PackageName = Annotated[str, _matching("package", r"^[a-z0-9][a-z0-9.+-]{0,99}$", "a package name")]
ProductName = Annotated[PlainText, _bounded(80), Field(min_length=1)]
ShortText = Annotated[PlainText, _bounded(200)]


class SoftwareKind(StrEnum):
    """What a product is for."""

    OS = "os"
    DOCUMENT_FLOW = "document-flow"
    ACCOUNTING = "accounting"
    PORTAL = "portal"
    REGISTRY = "registry"
    OFFICE = "office"
    DATABASE = "database"
    MAIL = "mail"
    FILE_SERVER = "file-server"
    DIRECTORY = "directory"
    WEB_SERVER = "web-server"
    SECURITY = "security"
    EDUCATION = "education"
    PACKAGE = "package"  # an installed package as an inspection of a disk found it
    OTHER = "other"


class PermissionState(StrEnum):
    """Where the vendor's permission to run the product in the lab stands."""

    NOT_NEEDED = "not-needed"  # free software, or the Centre's own
    NONE = "none"  # needed, not asked for yet
    REQUESTED = "requested"
    GRANTED = "granted"


class Permission(BaseModel):
    """The vendor's permission and the document that grants it."""

    model_config = _FROZEN

    state: PermissionState = PermissionState.NONE
    reference: ShortText = Field(
        default="", description="The permission letter: its number and date"
    )

    @model_validator(mode="after")
    def _granted_names_its_document(self) -> Permission:
        if self.state is PermissionState.GRANTED and not self.reference.strip():
            raise ValueError(
                "a granted permission names its document in `reference`"
                " (the vendor's letter: number and date)"
            )
        return self

    @property
    def outstanding(self) -> bool:
        """Needed and not granted yet."""
        return self.state in (PermissionState.NONE, PermissionState.REQUESTED)


class Formats(BaseModel):
    """The data formats a product reads and writes."""

    model_config = _FROZEN

    reads: tuple[FormatName, ...] = ()
    writes: tuple[FormatName, ...] = ()


class Software(BaseModel):
    """One product a machine carries."""

    model_config = _FROZEN

    product: ProductName = Field(description="The product's name, as the catalogue groups it")
    vendor: ShortText = ""
    version: Version = Field(default="", description="Absent: not known")
    kind: SoftwareKind = SoftwareKind.OTHER
    licence: ShortText = Field(default="", description="e.g. GPL-3.0, proprietary per seat")
    permission: Permission = Field(
        default_factory=Permission, description="The vendor's permission to run it in the lab"
    )
    formats: Formats = Field(default_factory=Formats)
    support_ends: date | None = Field(
        default=None, description="The day the vendor's support ends (YYYY-MM-DD)"
    )
    package: PackageName | None = Field(
        default=None, description="The package it is installed as, where there is one"
    )

    def out_of_support(self, today: date) -> bool:
        """Whether the vendor's support ended before `today` (as the profile says)."""
        return self.support_ends is not None and self.support_ends < today
