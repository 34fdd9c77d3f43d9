"""The `lab` command. The only layer that prints to a terminal or picks an exit code.

Each sub-module owns one group of commands and registers them on `app`.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from lab.errors import LabError

app = typer.Typer(
    name="lab",
    help="Hromada Lab: sandbox labs of a community's IT stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def report(error: LabError) -> None:
    """Print a LabError as the user should see it: message, then what to do."""
    err.print(f"[bold red]error:[/] {escape(error.message)}", markup=True, soft_wrap=True)
    if error.hint:
        err.print(f"[bold yellow]hint:[/] {escape(error.hint)}", markup=True, soft_wrap=True)


def _register() -> None:
    # Imported here so that every group module can import `app`, `out` and `err`.
    import lab.cli.classes
    import lab.cli.host
    import lab.cli.image
    import lab.cli.labs
    import lab.cli.profile
    import lab.cli.serve
    import lab.cli.software
    import lab.cli.users

    for module in (
        lab.cli.profile,
        lab.cli.image,
        lab.cli.host,
        lab.cli.labs,
        lab.cli.software,
        lab.cli.classes,
        lab.cli.users,
        lab.cli.serve,
    ):
        module.register(app)


def main() -> None:
    """Entry point of the `lab` console script."""
    _register()
    try:
        app()
    except LabError as error:
        report(error)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
