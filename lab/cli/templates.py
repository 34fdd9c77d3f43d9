"""`lab template create / list / show / delete`: verified labs kept to clone from.

A lab or a class is brought up from a template with `lab up --template` and
`lab class create --template` (lab.cli.labs, lab.cli.classes).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from lab.cli import out
from lab.cli.acting import operation
from lab.cli.as_json import JsonOption, print_models
from lab.cli.image import _human
from lab.cli.tables import table
from lab.settings import get_settings
from lab.templates import templates
from lab.templates.model import TemplateInfo

group = typer.Typer(
    help="Templates: a verified lab's frozen state, to clone labs and classes from in seconds.",
    no_args_is_help=True,
)


@group.command("create")
def create(
    lab: Annotated[str, typer.Argument(help="A verified lab with a baseline")],
    name: Annotated[str, typer.Option(help="Template name")],
) -> None:
    """Keep the lab's baseline (disk layers and memory states) as a template."""
    settings = get_settings()
    with operation(settings, "template", f"template/{name}") as progress:
        made = templates.create(settings, lab, name, progress)
    memory = f", memory of {', '.join(made.memory)}" if made.memory else ""
    out.print(
        f"template [bold]{escape(made.name)}[/] of lab {escape(made.source_lab)}"
        f" ({escape(made.profile)}): {len(made.machines)} machines{escape(memory)},"
        f" {_human(made.size)}"
    )
    out.print(f"clone it: lab up --template {escape(made.name)} --name NAME")


@group.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The templates kept, and the labs cloned from each."""
    found = templates.list_templates(get_settings())
    if as_json:
        from api.schemas import TemplatePublic

        print_models(TemplatePublic.of(t) for t in found)
        return
    if not found:
        out.print("no templates yet; keep a verified lab as one: lab template create LAB --name T")
        return
    shown = table(
        "template", "profile", "source lab", "machines", "memory", "size", "used by", "created"
    )
    for t in found:
        shown.add_row(
            escape(t.name),
            escape(t.profile),
            escape(t.source_lab),
            str(len(t.machines)),
            str(len(t.memory)),
            _human(t.size),
            escape(", ".join(t.used_by)) or "-",
            t.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(shown)


@group.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Template name")], as_json: JsonOption = False
) -> None:
    """One template: where it came from, its machines, and the labs cloned from it."""
    found = templates.get_template(get_settings(), name)
    if as_json:
        from api.schemas import TemplatePublic

        print_models(TemplatePublic.of(found))
    else:
        _show(found)


@group.command("delete")
def delete(name: Annotated[str, typer.Argument(help="Template name")]) -> None:
    """Remove a template and the files no other template shares. Refused while a lab
    cloned from it exists."""
    settings = get_settings()
    with operation(settings, "template-delete", f"template/{name}"):
        templates.delete(settings, name)
    out.print(f"template {escape(name)} deleted")


def _show(t: TemplateInfo) -> None:
    rows = (
        ("template", t.name),
        ("digest", t.digest),
        ("profile", t.profile),
        ("source lab", t.source_lab),
        ("created", t.created_at.strftime("%Y-%m-%d %H:%M")),
        ("machines", ", ".join(t.machines)),
        ("memory", ", ".join(t.memory) or "- (they boot)"),
        ("size", _human(t.size)),
        ("used by", ", ".join(t.used_by) or "-"),
    )
    for label, value in rows:
        out.print(f"{label + ':':<12} {escape(value)}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="template")
