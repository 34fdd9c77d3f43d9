"""Tables as a terminal and as a pipe want them.

On a terminal a table has its box; when the console is not a terminal (a pipe, a file, CI
logs) it is plain columns aligned with spaces, with no box-drawing characters for `grep`,
`awk` or a log viewer to trip on. Colours follow rich's own rules: none without a terminal,
none with NO_COLOR.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from lab.cli import out


def table(*columns: str, console: Console = out, boxed: box.Box = box.HEAVY_HEAD) -> Table:
    """A table of `columns` for `console`: boxed with `boxed` on a terminal, plain columns
    (no box, no edge padding) otherwise."""
    if console.is_terminal:
        made = Table(*columns, box=boxed, header_style="bold")
    else:
        made = Table(*columns, box=None, pad_edge=False, header_style="bold")
    return made
