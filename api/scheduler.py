"""The scheduler thread of `lab serve`: starts due class resets as operations."""

from __future__ import annotations

import logging
import threading

from lab.base import Progress
from lab.classes import classes
from lab.classes.schedules import Schedule, ScheduleStore
from lab.errors import LabError
from lab.operations.runner import Runner
from lab.settings import Settings

log = logging.getLogger(__name__)


class Scheduler:
    """Polls the schedules every `interval` seconds in a daemon thread."""

    def __init__(
        self, settings: Settings, store: ScheduleStore, runner: Runner, interval: float
    ) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lab-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def tick(self) -> list[Schedule]:
        """Start every due schedule; what was started (or refused)."""
        handled = []
        for schedule in self.store.claim_due():
            handled.append(self._start(schedule))
        return handled

    def _start(self, schedule: Schedule) -> Schedule:
        name, cold = schedule.class_name, schedule.cold

        def work(progress: Progress) -> list[classes.SeatOutcome]:
            return classes.reset(self.settings, name, cold=cold, progress=progress)

        try:
            classes.get_class(self.settings, name)
            op = self.runner.submit("class-reset", f"class/{name}", schedule.created_by, work)
        except LabError as exc:
            return self.store.refused(schedule, exc.message)
        return self.store.started(schedule, op.id)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")
