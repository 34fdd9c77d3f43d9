"""A class's course results as a PDF (fpdf2) to print or file: per seat its trainees and a
table of its tasks (state, attempts, hints, points), then the class's totals.

Set in DejaVu like the access sheet (api/sheet_pdf.py): names, titles and labels are
Ukrainian (default) or English.
"""

from __future__ import annotations

from typing import Literal

from fpdf import FPDF

from api.pdf import NEXT, document
from lab.courses.runs import STATE_WORDS, Board, BoardSeat

Lang = Literal["uk", "en"]
_WIDTHS = (10, 80, 30, 20, 20, 20)  # №, task, state, attempts, hints, points (mm)

LABELS: dict[Lang, dict[str, str]] = {
    "uk": {
        "title": "Результати курсу",
        "class": "Клас",
        "course": "Курс",
        "date": "Дата",
        "seat": "Робоче місце",
        "trainees": "Учні",
        "nobody": "не призначено",
        "columns": "№|Завдання|Стан|Спроби|Підказки|Бали",
        "total": "Разом",
        "totals": "Підсумки класу",
        "done": "виконано завдань",
        "average": "середній бал",
    },
    "en": {
        "title": "Course results",
        "class": "Class",
        "course": "Course",
        "date": "Date",
        "seat": "Seat",
        "trainees": "Trainees",
        "nobody": "none assigned",
        "columns": "No.|Task|State|Attempts|Hints|Points",
        "total": "Total",
        "totals": "The class's totals",
        "done": "tasks done",
        "average": "average points",
    },
}


def render(board: Board, lang: Lang = "uk") -> bytes:
    labels = LABELS[lang]
    pdf = document(
        f"{labels['title']}: {board.class_name}",
        f"{labels['title']}: {board.course.title.get(lang)}",
    )
    pdf.multi_cell(0, 5, f"{labels['class']}: {board.class_name}", **NEXT)
    pdf.multi_cell(0, 5, f"{labels['course']}: {board.name}", **NEXT)
    pdf.multi_cell(0, 5, f"{labels['date']}: {board.made_at:%Y-%m-%d %H:%M %Z}", **NEXT)
    pdf.ln(3)
    for seat in board.seats:
        if pdf.get_y() + 20 + 6 * len(seat.cells) > pdf.page_break_trigger:
            pdf.add_page()
        _seat(pdf, board, seat, lang, labels)
    _totals(pdf, board, labels)
    return bytes(pdf.output())


def _seat(pdf: FPDF, board: Board, seat: BoardSeat, lang: Lang, labels: dict[str, str]) -> None:
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(0, 7, f"{labels['seat']}: {seat.seat}", **NEXT)
    pdf.set_font("DejaVu", "", 10)
    trainees = ", ".join(seat.trainees) or labels["nobody"]
    pdf.multi_cell(0, 5, f"{labels['trainees']}: {trainees}", **NEXT)
    pdf.set_font("DejaVu", "B", 9)
    for width, heading in zip(_WIDTHS, labels["columns"].split("|"), strict=True):
        pdf.cell(width, 6, heading, border=1)
    pdf.ln()
    pdf.set_font("DejaVu", "", 9)
    for number, (task, cell) in enumerate(zip(board.course.tasks, seat.cells, strict=True), 1):
        row = (
            str(number),
            task.title.get(lang)[:45],
            STATE_WORDS[cell.state].get(lang),
            str(cell.attempts),
            str(cell.hints_taken),
            f"{cell.earned}/{task.points}",
        )
        for width, value in zip(_WIDTHS, row, strict=True):
            pdf.cell(width, 6, value, border=1)
        pdf.ln()
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(sum(_WIDTHS[:-1]), 6, labels["total"], border=1)
    pdf.cell(_WIDTHS[-1], 6, f"{seat.earned}/{board.course.points}", border=1)
    pdf.ln(10)


def _totals(pdf: FPDF, board: Board, labels: dict[str, str]) -> None:
    seats = len(board.seats) or 1
    done = sum(1 for s in board.seats for c in s.cells if c.earned or c.passed_at)
    average = sum(s.earned for s in board.seats) / seats
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(0, 7, labels["totals"], **NEXT)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(
        0, 5, f"{labels['done']}: {done} / {len(board.seats) * len(board.course.tasks)}", **NEXT
    )
    pdf.multi_cell(0, 5, f"{labels['average']}: {average:.1f} / {board.course.points}", **NEXT)
