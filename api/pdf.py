"""What every PDF of the lab starts with (fpdf2): an A4 document in DejaVu, its heading.

Text is set in DejaVu (Debian's `fonts-dejavu-core`): the core PDF fonts have no Cyrillic,
and names, titles and labels here are Ukrainian.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF

from lab.errors import HostError

FONTS = Path("/usr/share/fonts/truetype/dejavu")
NEXT: dict[str, Any] = {"new_x": "LMARGIN", "new_y": "NEXT"}  # after a cell: the next line
_FACES = {
    ("DejaVu", ""): "DejaVuSans.ttf",
    ("DejaVu", "B"): "DejaVuSans-Bold.ttf",
    ("DejaVuMono", ""): "DejaVuSansMono.ttf",
    ("DejaVuMono", "B"): "DejaVuSansMono-Bold.ttf",
}


def document(title: str, heading: str) -> FPDF:
    """A4, its fonts, a first page opened with `heading` in large bold type; the body's
    font (DejaVu, 10 pt) set for what follows."""
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("Hromada Lab")
    for (family, style), file in _FACES.items():
        path = FONTS / file
        if not path.is_file():
            raise HostError(
                f"the font {path} is missing: the PDF needs it for Cyrillic text",
                hint="install Debian's fonts-dejavu-core (make setup does)",
            )
        pdf.add_font(family, style, str(path))
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 8, heading, **NEXT)
    pdf.set_font("DejaVu", "", 10)
    return pdf
