"""`lab operation list / show`: what was started from a terminal or through the API, how
far it got and how it ended.

Every command that acts, and every action of the API, is an operation of the operations
store (docs/cli.md); these commands read it, as staff read it through
`GET /api/v1/operations`: everyone's operations, newest first.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from lab.cli import out
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.operations.store import SHORT_ID, Operation, OperationStore
from lab.settings import get_settings

group = typer.Typer(
    help="Operations: what commands and the API started, their progress and how they ended.",
    no_args_is_help=True,
)

_WHEN = "%Y-%m-%d %H:%M:%S"


@group.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The latest operations (up to 100), newest first, with their latest word; an id is
    shown by its first digits, which `lab operation show` takes."""
    found = OperationStore.open(get_settings()).list_operations()
    if as_json:
        from api.schemas import OperationPublic

        print_models(OperationPublic.of(op) for op in found)
        return
    if not found:
        out.print("no operations yet")
        return
    shown = table("id", "kind", "target", "status", "by", "started", "latest")
    for column in shown.columns:  # one line per operation; the latest word gives way
        column.no_wrap = True
    shown.columns[-1].overflow = "ellipsis"
    shown.columns[-1].ratio = 1
    for op in found:
        shown.add_row(
            op.id[:SHORT_ID],
            escape(op.kind),
            escape(op.target),
            op.status.value,
            escape(op.created_by),
            op.created_at.strftime("%m-%d %H:%M"),
            escape(_latest(op)),
        )
    out.print(shown)


@group.command("show")
def show(
    op_id: Annotated[
        str, typer.Argument(help="Operation id, or its first digits as `lab operation list` shows")
    ],
    as_json: JsonOption = False,
) -> None:
    """One operation: its target and status, every progress line, and its error with the
    hint when it failed."""
    store = OperationStore.open(get_settings())
    op = store.find(op_id)
    if as_json:
        from api.schemas import OperationPublic

        print_models(OperationPublic.of(op))
        return
    rows = (
        ("operation", op.id),
        ("kind", op.kind),
        ("target", op.target),
        ("status", op.status.value),
        ("by", op.created_by),
        ("started", op.created_at.strftime(_WHEN)),
        ("updated", op.updated_at.strftime(_WHEN)),
    )
    for label, value in rows:
        out.print(f"{label + ':':<10} {escape(value)}")
    if op.error:
        out.print(f"{'error:':<10} {escape(op.error)}")
    if op.hint:
        out.print(f"{'hint:':<10} {escape(op.hint)}")
    events = store.events(op.id)
    if events:
        out.print("progress:")
    for event in events:
        out.print(
            f"  {event.at.strftime('%H:%M:%S')}  {escape(event.subject)}: {escape(event.message)}"
        )


def _latest(op: Operation) -> str:
    return op.error or op.progress or "-"


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="operation")
