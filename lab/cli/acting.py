"""Every command that acts runs as an operation, recorded like the API's.

`lab down demo` on a terminal and `DELETE /api/v1/labs/demo` on the web page land in the
same operations store (lab.operations.recording): the same kind names, the CLI's user as
the audit log names it (`cli:LOGIN`), the progress lines as events. So the web page shows
what a terminal is doing to a lab, and the store's conflict rule keeps the two from
acting on one lab at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.markup import escape

from lab.base import Progress
from lab.cli import err
from lab.cli.audit import cli_user
from lab.operations.recording import Recording, recorded
from lab.settings import Settings


def progress_printer() -> Progress:
    """Progress as timestamped lines: readable on a terminal and in CI logs alike."""
    started = time.monotonic()

    def show(subject: str, message: str) -> None:
        elapsed = time.monotonic() - started
        err.print(f"{elapsed:6.1f}s  [cyan]{escape(subject)}[/]  {escape(message)}")

    return show


@contextmanager
def operation(
    settings: Settings, kind: str, target: str, show: Progress | None = None
) -> Iterator[Recording]:
    """Run the block as operation `kind` on `target` ("lab/NAME", "class/NAME",
    "image/NAME", ...); its progress is shown by `show` (default: timestamped lines)."""
    with recorded(settings, kind, target, cli_user(), show or progress_printer()) as recording:
        yield recording
