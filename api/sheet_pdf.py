"""A class's access sheet as a PDF (fpdf2), one card per trainee, ready to cut apart.

Text is set in DejaVu (Debian's `fonts-dejavu-core`): the core PDF fonts have no
Cyrillic, and names, titles and labels here are Ukrainian. Labels come in Ukrainian
(default) or English, like the web page's.
"""

from __future__ import annotations

from typing import Literal

from fpdf import FPDF

from api.pdf import NEXT, document
from api.schemas import AccessSheetPublic, SheetEntryPublic

Lang = Literal["uk", "en"]

LABELS: dict[Lang, dict[str, str]] = {
    "uk": {
        "title": "Доступ до робочих місць",
        "class": "Клас",
        "made": "Складено",
        "note": "Паролі нові з цим аркушем: надрукований знову аркуш дає нові паролі.",
        "seat": "Робоче місце",
        "web": "Веб-сторінка",
        "login": "Ім'я",
        "password": "Пароль",
        "machine": "Машина",
        "console": "Консоль",
        "account": "Обліковий запис у машині",
        "ssh": "SSH",
        "none": "немає",
        "ssh_note": "з сервера Центру (адреса {address}); вхід SSH за паролем вимкнено",
    },
    "en": {
        "title": "Access to the sandboxes",
        "class": "Class",
        "made": "Made",
        "note": "Passwords are new with this sheet: printing a new sheet changes them.",
        "seat": "Seat",
        "web": "Web page",
        "login": "Login",
        "password": "Password",
        "machine": "Machine",
        "console": "Console",
        "account": "Account in the machine",
        "ssh": "SSH",
        "none": "none",
        "ssh_note": "from the Centre's server (address {address}); password SSH is off",
    },
}


def render(sheet: AccessSheetPublic, lang: Lang = "uk") -> bytes:
    labels = LABELS[lang]
    pdf = document(
        f"{labels['title']}: {sheet.class_name}",
        f"{labels['title']}: {labels['class']} {sheet.class_name}",
    )
    made = sheet.made_at.strftime("%Y-%m-%d %H:%M %Z")
    pdf.multi_cell(0, 5, f"{sheet.title} · {labels['made']}: {made} ({sheet.made_by})", **NEXT)
    pdf.multi_cell(0, 5, labels["note"], **NEXT)
    pdf.ln(3)
    for entry in sheet.entries:
        # A card is never split over two pages (each row takes one line of 6 mm).
        if pdf.get_y() + 14 + 18 + 25 * len(entry.machines) > pdf.page_break_trigger:
            pdf.add_page()
        _card(pdf, entry, sheet.web_url, labels)
    return bytes(pdf.output())


def _card(pdf: FPDF, entry: SheetEntryPublic, web_url: str, labels: dict[str, str]) -> None:
    top = pdf.get_y()
    pdf.set_font("DejaVu", "B", 13)
    pdf.cell(0, 8, f"{labels['seat']}: {entry.seat}", new_x="LMARGIN", new_y="NEXT")
    _row(pdf, labels["web"], web_url)
    _row(pdf, labels["login"], entry.login, mono=True)
    _row(pdf, labels["password"], entry.password, mono=True)
    for m in entry.machines:
        pdf.ln(1)
        pdf.set_font("DejaVu", "B", 10)
        pdf.cell(0, 6, f"{labels['machine']} {m.machine}", new_x="LMARGIN", new_y="NEXT")
        _row(pdf, labels["console"], m.console_url, small=True)
        if m.appliance_logins:
            for login in m.appliance_logins:
                _row(pdf, labels["account"], login, mono=True)
        else:
            account = f"{m.account} / {m.password}" if m.account else labels["none"]
            _row(pdf, labels["account"], account, mono=True)
        if m.ssh_command:
            note = labels["ssh_note"].format(address=m.address)
            _row(pdf, labels["ssh"], f"{m.ssh_command}: {note}", small=True)
    bottom = pdf.get_y() + 2
    pdf.set_draw_color(120, 120, 120)
    pdf.set_dash_pattern(dash=1.5, gap=1.5)
    pdf.rect(pdf.l_margin - 2, top - 1, pdf.epw + 4, bottom - top + 1)
    pdf.set_dash_pattern()
    pdf.set_y(bottom + 4)


def _row(pdf: FPDF, label: str, value: str, *, mono: bool = False, small: bool = False) -> None:
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(52, 6, label)
    pdf.set_font("DejaVuMono" if mono else "DejaVu", "B" if mono else "", 8 if small else 11)
    pdf.multi_cell(0, 6, value, **NEXT)
