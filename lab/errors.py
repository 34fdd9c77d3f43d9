"""The one error tree of the project.

Every failure a user can meet is a `LabError` carrying a message (what happened)
and a hint (what to do about it). The CLI prints both and exits non-zero; the API
maps the subclass to an HTTP status. Nothing below the CLI calls `sys.exit`.
"""

from __future__ import annotations

# How much of a value a user gave (a name, a path, a key) a message quotes: enough to
# recognise it, never enough to flood an answer or a log.
QUOTE_LIMIT = 40


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A user's value as a message may show it: quoted, cut to `limit` characters, with
    line breaks, control and invisible characters (U+202E...) escaped by `repr`."""
    text = value if isinstance(value, str) else str(value)
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


class LabError(Exception):
    """Root of every error the orchestrator reports to a user."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFoundError(LabError):
    """A named thing (profile, image, lab, machine) does not exist."""


class ConflictError(LabError):
    """The thing exists already, is in use, or is busy with another operation."""


class InvalidError(LabError):
    """Input (a profile, a recipe, a name, a request body) is not acceptable."""


class HostError(LabError):
    """The host lacks something the orchestrator needs (a package, a daemon, space)."""


class CommandError(LabError):
    """An external command run through `lab.commands` failed."""


class DriverError(LabError):
    """libvirt refused or failed an operation (wraps `libvirt.libvirtError`)."""


class ThrottledError(LabError):
    """Refused for now, not for good: too many attempts, or too much work at once.
    `retry_after` is how many seconds to wait before trying again."""

    def __init__(self, message: str, hint: str = "", retry_after: float = 1.0) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after
