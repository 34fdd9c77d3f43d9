"""The CLI's entries in the audit log: every `lab` command that acts (not one that only
reads), who ran it, on what, and how it ended. The API's requests are recorded by its own
middleware; both land in the same log, so `GET /api/v1/audit` and the web page show a lab
taken down from a terminal beside one taken down from the page.

An entry: user `cli:NAME` (the login that ran `lab`, or the one behind `sudo`), action
`lab WORDS ARGS` (escaped, cut short), target `lab/NAME`, `class/NAME`, `user/NAME` or
`image/NAME` when the command names one, result `exit N` (`exit 130`: interrupted), detail
the error's message when it failed.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from collections.abc import Sequence
from typing import Any

import typer

from lab.access.audit import AuditLog, escaped
from lab.errors import LabError
from lab.settings import get_settings

# Command groups whose commands are two words (`lab class reset`, `lab user add`).
GROUPS = frozenset({"catalogue", "class", "image", "host", "profile", "user", "token", "template"})
# Commands that only read or describe: not recorded (nothing happened).
READS = frozenset(
    {
        ("list",),
        ("status",),
        ("verification",),
        ("validate",),
        ("serve",),
        ("catalogue", "product"),  # the catalogue only reads (`lab catalogue`: no words)
        ("catalogue", "permissions"),
        ("catalogue", "formats"),
        ("catalogue", "report"),
        ("catalogue", "export"),  # writes a file of what it read; changes nothing
        ("class", "list"),
        ("class", "status"),
        ("class", "schedules"),
        ("class", "board"),
        ("class", "results"),  # writes a file of what it read; changes nothing
        ("image", "list"),
        ("image", "show"),
        ("image", "inspect"),  # reads a disk; --into writes a profile file, as results do
        ("template", "list"),
        ("template", "show"),
        ("operation", "list"),
        ("operation", "show"),
        ("profile", "show"),
        ("profile", "schema"),
        ("host", "check"),
        ("user", "list"),
    }
)
_KIND_OF_GROUP = {
    "class": "class",
    "user": "user",
    "token": "user",
    "image": "image",
    "template": "template",
}
MAX_ACTION = 200
MAX_DETAIL = 300


def command_words(argv: Sequence[str]) -> tuple[str, ...]:
    """The command's own words: `("down",)`, `("class", "reset")`; () for none."""
    if not argv or argv[0].startswith("-"):
        return ()
    if argv[0] in GROUPS:
        if len(argv) < 2 or argv[1].startswith("-"):
            return ()
        return (argv[0], argv[1])
    return (argv[0],)


# Commands that only read when given this option (`lab checkpoint LAB --list`).
READ_OPTIONS: dict[tuple[str, ...], str] = {("checkpoint",): "--list"}


def is_action(argv: Sequence[str]) -> bool:
    """Whether a command line acts (and so goes into the audit log)."""
    words = command_words(argv)
    reads = words in READS or READ_OPTIONS.get(words, "--help") in argv
    return bool(words) and not reads and "--help" not in argv


def parameters(argv: Sequence[str]) -> dict[str, Any]:
    """The parameters a command line gives its command, parsed as the CLI parses them (so
    an option's value is never taken for the lab's name); {} when it does not parse."""
    from lab.cli import app  # the package imports this module's caller, not this module

    words = command_words(argv)
    try:
        ctx = typer.main.get_command(app).make_context("lab", list(argv), resilient_parsing=True)
        rest = list(argv)
        for word in words:
            group = ctx.command
            sub = group.get_command(ctx, word) if isinstance(group, typer.core.TyperGroup) else None
            if sub is None:
                return {}
            rest = rest[rest.index(word) + 1 :]
            ctx = sub.make_context(word, rest, parent=ctx, resilient_parsing=True)
    except typer.TyperException:
        return {}
    return dict(ctx.params)


def target(words: tuple[str, ...], params: dict[str, Any]) -> str:
    """What the command acts on, as the API names targets (`lab/demo`), or ""."""
    if not words:
        return ""
    if params.get("klass"):
        return f"class/{params['klass']}"
    name = params.get("name")
    if not name:
        return ""
    return f"{_KIND_OF_GROUP.get(words[0], 'lab')}/{name}"


def cli_user() -> str:
    """`cli:` and the login that ran the command (behind `sudo`, the one who ran sudo)."""
    name = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"cli:{name}"


def record(argv: Sequence[str], exit_code: int, detail: str = "") -> str | None:
    """Record a finished command line when it acted; a warning to show when the audit log
    could not be written (the command's own outcome stands either way), else None."""
    if not is_action(argv) or exit_code == 2:  # 2: a usage error, nothing was done
        return None
    action = escaped("lab " + " ".join(argv), MAX_ACTION)
    on = target(command_words(argv), parameters(argv))
    try:
        AuditLog.open(get_settings()).add(
            cli_user(),
            action,
            escaped(on, MAX_ACTION),
            f"exit {exit_code}",
            escaped(detail, MAX_DETAIL),
        )
    except (LabError, OSError, ValueError, sqlite3.Error) as exc:
        return f"not recorded in the audit log: {exc}"
    return None
