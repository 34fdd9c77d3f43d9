"""Located problems of a profile file, and the error that carries them."""

from __future__ import annotations

from dataclasses import dataclass

from lab.errors import InvalidError

SCHEMA_HINT = "fix the lines above; `lab profile schema` prints the JSON Schema for editors"


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


class ProfileError(InvalidError):
    """A profile is not valid. Holds every problem found, in file order."""

    def __init__(
        self, problems: tuple[Problem, ...] | list[Problem], source: str = "", hint: str = ""
    ) -> None:
        ordered = tuple(
            sorted(problems, key=lambda p: (p.file != source, p.file, p.line, p.column))
        )
        elsewhere = sorted({p.file for p in ordered} - {source})
        count = f"{len(ordered)} problem" + ("s" if len(ordered) != 1 else "")
        if source and elsewhere:
            some = "some " if any(p.file == source for p in ordered) else ""
            count += f", {some}in {', '.join(elsewhere)}"
        head = f"invalid profile {source or ', '.join(elsewhere)} ({count}):"
        super().__init__("\n".join([head, *(f"  {p}" for p in ordered)]), hint or SCHEMA_HINT)
        self.problems = ordered
