"""Located problems of a YAML file (a profile, a course), and the errors that carry them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from lab.errors import InvalidError, LabError

SCHEMA_HINT = "fix the lines above; `lab profile schema` prints the JSON Schema for editors"
# A file with thousands of problems is reported by its first ones: the answer to a
# 200 KB file stays a few KB, and the first problems are what to fix first anyway.
MAX_PROBLEMS = 50
MAX_TEXT = 300  # characters of one problem's message or key path


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """Text fit for a terminal or a log: line breaks, control and invisible characters
    (U+202E...) escaped, cut to `limit` characters. Messages quote a user's values; this
    holds for every message, whichever check wrote it (PyYAML's quote the document)."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit * 2])
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, located: `profiles/x.yaml:14:9 machines[1].nics[0].address: ...`.

    `line` and `column` are 1-based. `path` is the key path inside the profile, empty
    when the problem concerns the file as a whole (syntax, encoding, emptiness).
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class LocatedError(InvalidError):
    """A file is not valid. Holds every problem found, in file order; `what` names the
    sort of file in the heading ("invalid profile x.yaml (2 problems):")."""

    what = "file"
    schema_hint = SCHEMA_HINT

    def __init__(
        self, problems: tuple[Problem, ...] | list[Problem], source: str = "", hint: str = ""
    ) -> None:
        every = sorted(problems, key=lambda p: (p.file != source, p.file, p.line, p.column))
        ordered = tuple(
            replace(p, file=clean(p.file), path=clean(p.path), message=clean(p.message))
            for p in every[:MAX_PROBLEMS]
        )
        source = clean(source)
        elsewhere = sorted({p.file for p in ordered} - {source})
        count = f"{len(every)} problem" + ("s" if len(every) != 1 else "")
        if len(every) > MAX_PROBLEMS:
            count += f", the first {MAX_PROBLEMS} shown"
        if source and elsewhere:
            some = "some " if any(p.file == source for p in ordered) else ""
            count += f", {some}in {', '.join(elsewhere)}"
        head = f"invalid {self.what} {source or ', '.join(elsewhere)} ({count}):"
        super().__init__("\n".join([head, *(f"  {p}" for p in ordered)]), hint or self.schema_hint)
        self.problems = ordered


class ProfileError(LocatedError):
    """A profile is not valid."""

    what = "profile"


def first_problem(folder: Path, exc: LabError) -> str:
    """What is wrong with a profile of `folder`, in one line, its files named as the
    folder names them (never by the server's paths): how a listing shows it."""
    lines = exc.message.replace(f"{folder}/", "").splitlines()
    return " ".join(line.strip() for line in lines[:2])
