"""The catalogue's entries as CSV (stdlib csv), one row per profile, machine and product.

The text comes from profiles communities mail in, so a cell that a spreadsheet would
take for a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is
written with a leading `'`. UTF-8 with a byte order mark: spreadsheet programs then read
Cyrillic right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from lab.catalogue.entries import CatalogueEntry

HEADER = (
    "profile",
    "community",
    "title",
    "machine",
    "product",
    "vendor",
    "version",
    "kind",
    "licence",
    "permission",
    "permission_reference",
    "reads",
    "writes",
    "support_ends",
    "out_of_support",
    "package",
)
_FORMULA_MARKS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """`value` as a spreadsheet cannot take it for a formula."""
    return f"'{value}" if value.startswith(_FORMULA_MARKS) else value


def row(entry: CatalogueEntry) -> tuple[str, ...]:
    return (
        entry.profile,
        entry.community,
        entry.title,
        entry.machine,
        entry.product,
        entry.vendor,
        entry.version,
        entry.kind.value,
        entry.licence,
        entry.permission.state.value,
        entry.permission.reference,
        " ".join(entry.formats.reads),
        " ".join(entry.formats.writes),
        entry.support_ends.isoformat() if entry.support_ends else "",
        "yes" if entry.out_of_support else "no",
        entry.package or "",
    )


def to_csv(entries: Iterable[CatalogueEntry]) -> str:
    """Every entry as a CSV row under HEADER."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for entry in entries:
        writer.writerow([safe_cell(cell) for cell in row(entry)])
    return out.getvalue()
