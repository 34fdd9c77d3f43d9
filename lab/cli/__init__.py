"""The `lab` command. The only layer that prints to a terminal or picks an exit code.

Each sub-module owns one group of commands and registers them on `app`.
"""

from __future__ import annotations

import importlib
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
    add_completion=True,  # `lab --install-completion`; see main() for how it is asked
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def report(error: LabError) -> None:
    """Print a LabError as the user should see it: message, then what to do."""
    err.print(f"[bold red]error:[/] {escape(error.message)}", markup=True, soft_wrap=True)
    if error.hint:
        err.print(f"[bold yellow]hint:[/] {escape(error.hint)}", markup=True, soft_wrap=True)


# Groups whose module stands alone: `lab catalogue ...` imports and registers only it, so
# that a command read often starts in a fraction of the time all the groups take.
ALONE = {"catalogue": "lab.cli.catalogue"}


def _register(argv: list[str] | None = None) -> None:
    # Imported here so that every group module can import `app`, `out` and `err`.
    if argv and argv[0] in ALONE:
        importlib.import_module(ALONE[argv[0]]).register(app)
        return
    import lab.cli.catalogue
    import lab.cli.classes
    import lab.cli.course
    import lab.cli.host
    import lab.cli.image
    import lab.cli.labs
    import lab.cli.operation
    import lab.cli.profile
    import lab.cli.serve
    import lab.cli.software
    import lab.cli.templates
    import lab.cli.users

    for module in (
        lab.cli.profile,
        lab.cli.catalogue,
        lab.cli.image,
        lab.cli.host,
        lab.cli.labs,
        lab.cli.templates,
        lab.cli.operation,
        lab.cli.software,
        lab.cli.classes,
        lab.cli.course,
        lab.cli.users,
        lab.cli.serve,
    ):
        module.register(app)


def main() -> None:
    """Entry point of the `lab` console script. A command that acts is recorded in the
    audit log once it ends, however it ends (lab.cli.audit)."""
    from lab.cli import audit

    argv = sys.argv[1:]
    _register(argv)
    if not out.is_terminal:  # help for a pipe or a log: click's plain text, no boxes
        app.rich_markup_mode = None
    code, detail = 1, ""
    try:
        # Not standalone: typer hands back the exit code typer.Exit or Ctrl-C asked for
        # instead of exiting, and lets usage errors through, so every ending passes
        # `finally` below.
        returned = app(args=argv, standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except LabError as error:
        report(error)
        code, detail = 1, error.message
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    except SystemExit as done:  # someone's sys.exit: its code stands
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        raise
    except typer.Abort:  # end of input at a prompt
        err.print("aborted")
        code = 1
    except typer.TyperException as usage:  # a usage error (click's): nothing was done
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {escape(str(usage))}")
        code = int(getattr(usage, "exit_code", 2))
    finally:
        warning = audit.record(argv, code, detail)
        if warning:
            err.print(f"[yellow]warning:[/] {escape(warning)}")
    sys.exit(code)
