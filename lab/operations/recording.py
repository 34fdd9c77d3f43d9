"""An action run in this process, recorded as an operation like the API's.

The API's runner records the operations it runs in worker threads; a command line (the
CLI) acts in its own process and records the same way here: the operation is created
(the store's conflict rule applies, so the CLI and the API never act on one target at
once), marked running, its progress lines added as events, and finished `succeeded`,
`failed` (with the error's message and hint) or `canceled` (Ctrl-C), however the block
ends. A process killed half-way leaves it running under a pid that is gone: the orphan
sweep (`OperationStore.fail_orphans`, run at the API's start and before every recorded
action) marks it failed.

What is recorded is read over the API, so paths are redacted as the runner's are; what
the caller shows on its own terminal is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python

from lab.base import Progress
from lab.errors import ConflictError, LabError
from lab.operations.runner import failed_seats
from lab.operations.store import Operation, OperationStore, OpStatus
from lab.redact import path_redactor, redact_value
from lab.settings import Settings

T = TypeVar("T")


class Recording:
    """The progress callback of a recorded action (show the line, add it as an event),
    and where the action leaves its result."""

    def __init__(self, store: OperationStore, op: Operation, show: Progress, settings: Settings):
        self.store = store
        self.op = op
        self.show = show
        self.redact = path_redactor(settings)
        self.value: Any = None

    def __call__(self, subject: str, message: str) -> None:
        self.show(subject, message)
        self.event(subject, message)

    def event(self, subject: str, message: str) -> None:
        """Add a line to the operation's events without showing it."""
        self.store.add_event(self.op.id, subject, self.redact(message))

    def result(self, value: T) -> T:
        """Keep `value` as the operation's result (seats that failed fail it); return it."""
        self.value = value
        return value


@contextmanager
def recorded(
    settings: Settings, kind: str, target: str, user: str, show: Progress
) -> Iterator[Recording]:
    """Run the block as operation `kind` on `target` by `user`; ConflictError (before the
    block runs) while another operation on `target` is active."""
    store = OperationStore.open(settings)
    store.fail_orphans()  # a killed command's operation must not hold its target forever
    try:
        op = store.create(kind, target, user)
    except ConflictError as busy:
        raise ConflictError(
            busy.message,
            hint="wait for it to finish (the web page's operations, or GET"
            " /api/v1/operations, show it), then run this again",
        ) from None
    store.start(op.id)
    recording = Recording(store, op, show, settings)
    recording.event("operation", f"{kind} {target}: running")
    status, error, hint = OpStatus.FAILED, "", ""
    try:
        yield recording
    except LabError as exc:
        error, hint = exc.message, exc.hint
        raise
    except KeyboardInterrupt:
        status, error = OpStatus.CANCELED, "interrupted (Ctrl-C) while it ran"
        hint = "`lab reconcile` makes libvirt and the state store agree again"
        raise
    except BaseException as exc:  # recorded, then passed on unchanged
        code = getattr(exc, "exit_code", getattr(exc, "code", None))
        if code == 0:
            status = OpStatus.SUCCEEDED
        else:
            error = str(exc) or f"ended by {type(exc).__name__}" + (f" {code}" if code else "")
        raise
    else:
        failed = failed_seats(recording.value)
        if failed:
            error = f"{len(failed)} seat(s) failed: " + "; ".join(
                f"{o.seat}: {o.error}" for o in failed
            )
            hint = "the result lists every seat; retry the failed ones"
        else:
            status = OpStatus.SUCCEEDED
    finally:
        _finish(recording, status, error, hint)


def _finish(recording: Recording, status: OpStatus, error: str, hint: str) -> None:
    redact, op = recording.redact, recording.op
    ending = f"{op.kind} {op.target}: {status}" + (f": {error}" if error else "")
    recording.event("operation", ending)
    result = redact_value(to_jsonable_python(recording.value, fallback=str), redact)
    recording.store.finish(op.id, status, result=result, error=redact(error), hint=redact(hint))
