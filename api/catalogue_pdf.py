"""The unification report as a PDF (fpdf2) for the Coordination Council, in Ukrainian: the
date, the recommended stack's products, then each community's differences from it.

Set in DejaVu like the other PDFs (api/pdf.py). Tables wrap long names inside their
cells instead of running over the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from fpdf import FPDF
from fpdf.fonts import FontFace

from api.pdf import NEXT, document
from lab.catalogue.unification import CommunityDifference, FormatSet, ProductBrief, Unification
from lab.catalogue.views import ProfileBrief
from lab.profile.software import SoftwareKind

TITLE = "Звіт про уніфікацію програмного забезпечення громад"
KIND_WORDS = {
    SoftwareKind.OS: "операційна система",
    SoftwareKind.DOCUMENT_FLOW: "документообіг",
    SoftwareKind.ACCOUNTING: "облік",
    SoftwareKind.PORTAL: "портал",
    SoftwareKind.REGISTRY: "реєстр",
    SoftwareKind.OFFICE: "офісний пакет",
    SoftwareKind.DATABASE: "база даних",
    SoftwareKind.MAIL: "пошта",
    SoftwareKind.FILE_SERVER: "файловий сервер",
    SoftwareKind.DIRECTORY: "каталог користувачів",
    SoftwareKind.WEB_SERVER: "вебсервер",
    SoftwareKind.SECURITY: "захист",
    SoftwareKind.EDUCATION: "освіта",
    SoftwareKind.PACKAGE: "пакет",
    SoftwareKind.OTHER: "інше",
}
UNKNOWN = "невідома"
_PRODUCTS = ("Продукт", "Версія", "Призначення")


def render(
    report: Unification,
    stack: Sequence[ProductBrief],
    profiles: Sequence[ProfileBrief],
    today: date,
) -> bytes:
    titles = {p.name: p.title for p in profiles}
    pdf = document(TITLE, TITLE)
    pdf.multi_cell(0, 5, f"Дата: {today:%d.%m.%Y}", **NEXT)
    pdf.multi_cell(0, 5, f"Громад у порівнянні: {len(report.communities)}", **NEXT)
    pdf.ln(3)
    _heading(pdf, "Рекомендований стек")
    named = titles.get(report.recommended) or report.recommended
    pdf.multi_cell(0, 5, f"Профіль: {named} ({report.recommended})", **NEXT)
    pdf.ln(1)
    _products(pdf, stack)
    for community in report.communities:
        _community(pdf, community)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str, size: int = 13) -> None:
    pdf.set_font("DejaVu", "B", size)
    pdf.multi_cell(0, 7, text, **NEXT)
    pdf.set_font("DejaVu", "", 10)


def _community(pdf: FPDF, community: CommunityDifference) -> None:
    if pdf.get_y() + 40 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(4)
    _heading(pdf, f"{community.title or community.community} ({community.profile})")
    if community.same:
        pdf.multi_cell(0, 5, "Програмне забезпечення відповідає рекомендованому стеку.", **NEXT)
        return
    if community.missing:
        _subheading(pdf, "Бракує продуктів рекомендованого стеку")
        _products(pdf, community.missing)
    if community.extra:
        _subheading(pdf, "Продукти поза рекомендованим стеком")
        _products(pdf, community.extra)
    if community.versions:
        _subheading(pdf, "Інші версії")
        _table(
            pdf,
            ("Продукт", "Рекомендована", "У громаді"),
            [
                (v.product, v.recommended or UNKNOWN, ", ".join(v.theirs) or UNKNOWN)
                for v in community.versions
            ],
            (50, 25, 25),
        )
    if community.formats:
        _subheading(pdf, "Інші формати даних")
        _table(
            pdf,
            ("Продукт", "Рекомендовано", "У громаді"),
            [(f.product, _formats(f.recommended), _formats(f.theirs)) for f in community.formats],
            (34, 33, 33),
        )


def _subheading(pdf: FPDF, text: str) -> None:
    pdf.ln(1)
    pdf.set_font("DejaVu", "B", 10)
    pdf.multi_cell(0, 6, text, **NEXT)
    pdf.set_font("DejaVu", "", 10)


def _formats(formats: FormatSet) -> str:
    reads = ", ".join(formats.reads) or "—"
    writes = ", ".join(formats.writes) or "—"
    return f"читає: {reads}; пише: {writes}"


def _products(pdf: FPDF, products: Sequence[ProductBrief]) -> None:
    if not products:
        pdf.multi_cell(0, 5, "Продуктів немає.", **NEXT)
        return
    _table(
        pdf,
        _PRODUCTS,
        [(p.product, p.version or UNKNOWN, KIND_WORDS[p.kind]) for p in products],
        (50, 25, 25),
    )


def _table(
    pdf: FPDF,
    headings: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    widths: tuple[int, ...],
) -> None:
    """A table whose cells wrap their text (column widths: shares of the page's width)."""
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(
        col_widths=widths,
        text_align="LEFT",
        line_height=5,
        headings_style=FontFace(emphasis="BOLD"),
        repeat_headings=1,
    ) as table:
        table.row(headings)
        for row in rows:
            table.row(row)
    pdf.set_font("DejaVu", "", 10)
