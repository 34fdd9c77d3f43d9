"""The operation runner: slow use cases run in a thread pool, recorded in the state store.

A request records a pending operation and returns 202 at once; a worker thread marks
it running, calls the use case with a progress callback that appends the operation's
events, and records the result or the error (message and hint). The event loop never
waits for libvirt or SSH.

Cancel only affects a pending operation. A running one cannot be interrupted safely:
the use cases clean up after themselves on failure, but stopping a thread half-way
through `up` or a reset would leave a lab half-made, so it is left to finish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic_core import to_jsonable_python

from lab.access.audit import AuditLog
from lab.base import Progress
from lab.classes.classes import SeatOutcome
from lab.errors import ConflictError, LabError
from lab.labs.locks import is_locked
from lab.operations.store import Operation, OperationStore, OpStatus
from lab.redact import path_redactor, redact_value
from lab.settings import Settings

log = logging.getLogger("hromada.api")

Work = Callable[[Progress], object]


class Runner:
    def __init__(
        self, settings: Settings, store: OperationStore, audit: AuditLog, workers: int
    ) -> None:
        self.settings = settings
        self.store = store
        self.audit = audit
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="operation")
        # What an operation records is read over the API: no server paths in it.
        self.redact = path_redactor(settings)

    def submit(
        self, kind: str, target: str, user: str, work: Work, *, lock: str | None = None
    ) -> Operation:
        """Record a pending operation and queue it; ConflictError (409) when busy.

        Busy means: an operation on `target` is pending or running in the store, or
        (checked after that, so never against our own queued work) the lock of lab
        `lock` is held, e.g. by a CLI command or by a class operation on its seats.
        The refused request is recorded too, as a failed operation.
        """
        op = self.store.create(kind, target, user)
        if lock is not None and is_locked(self.settings, lock):
            busy = ConflictError(
                f"another operation on lab '{lock}' is running (outside this request's"
                " operations: the CLI, or a class operation)",
                hint="wait for it to finish, then try again",
            )
            self.store.finish(op.id, OpStatus.FAILED, error=busy.message, hint=busy.hint)
            raise busy
        self.pool.submit(self._run, op, work)
        return op

    def shutdown(self) -> None:
        # Queued operations stay pending in the store; `fail_orphans` settles them at
        # the next start, since their process is gone.
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, op: Operation, work: Work) -> None:
        if not self.store.start(op.id):
            return  # canceled while it waited

        def progress(subject: str, message: str) -> None:
            self.store.add_event(op.id, subject, self.redact(message))

        progress("operation", f"{op.kind} {op.target}: running")

        status, error, hint, result = OpStatus.FAILED, "", "", None
        try:
            outcome = work(progress)
        except LabError as exc:
            error, hint = self.redact(exc.message), self.redact(exc.hint)
        except Exception:
            log.exception("operation %s (%s %s) crashed", op.id, op.kind, op.target)
            error, hint = "internal error", "the server log has the details"
        else:
            result = redact_value(to_jsonable_python(outcome), self.redact)
            failed = failed_seats(outcome)
            if failed:
                error = self.redact(
                    f"{len(failed)} seat(s) failed: "
                    + "; ".join(f"{o.seat}: {o.error}" for o in failed)
                )
                hint = "the result lists every seat; retry the failed ones"
            else:
                status = OpStatus.SUCCEEDED
        progress("operation", f"{op.kind} {op.target}: {status}" + (f": {error}" if error else ""))
        self.store.finish(op.id, status, result=result, error=error, hint=hint)
        self.audit.add(op.created_by, op.kind, op.target, status, f"operation {op.id}")


def failed_seats(outcome: Any) -> list[SeatOutcome]:
    """The seats a class action's outcome says failed: they fail the operation."""
    items = outcome[1] if isinstance(outcome, tuple) and len(outcome) == 2 else outcome
    if not isinstance(items, list):
        return []
    return [o for o in items if isinstance(o, SeatOutcome) and not o.ok]
