"""Fakes for tests of course runs: a small course on the tiny profile, a class running it,
and stand-ins for the checks and the checkpoints (no guest is asked anything)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lab.baselines import resets
from lab.baselines.records import ResetMode, ResetRecord
from lab.classes.records import ClassRecord
from lab.courses import checking
from lab.courses.model import CheckKind, Course, Task, Text
from lab.courses.outcomes import CheckOutcome, TaskOutcome
from lab.errors import LabError, NotFoundError
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.store.state import StateStore, now

PROFILES = Path(__file__).parents[1] / "profiles"
COURSE = """\
title: {uk: Спільна тека, en: A shared folder}
audience: адміністратори громади
profile: tiny
tasks:
  - id: make-folder
    title: {uk: Створіть теку, en: Make the folder}
    machine: m1
    instructions: |
      # Тека
      Створіть `/srv/share`.
    checks:
      - file: /srv/share
        type: directory
    hints:
      - {uk: Команда mkdir, en: The mkdir command}
      - Спробуйте mkdir -p
    points: 2
  - id: own-folder
    title: Власник теки
    machine: m1
    instructions: Змініть власника.
    checks:
      - file: /srv/share
        owner: root
    points: 3
    checkpoint: own-start
  - id: last
    title: Останнє
    machine: m1
    instructions: Кінець.
    checks:
      - command: "true"
"""


def course_settings(tmp_path: Path) -> Settings:
    """Settings with a course catalogue holding `share` (the course above)."""
    courses = tmp_path / "courses"
    courses.mkdir(exist_ok=True)
    (courses / "share.yaml").write_text(COURSE, encoding="utf-8")
    return Settings(
        home=tmp_path / "home",
        libvirt_uri="test:///default",
        profiles_dir=PROFILES,
        courses_dir=courses,
        prefix="hlt-",
    )


def add_course_class(settings: Settings, name: str, seats: tuple[str, ...]) -> ClassRecord:
    record = ClassRecord(
        name=name,
        profile="tiny",
        profile_path=str(PROFILES / "tiny.yaml"),
        seats=seats,
        created_at=now(),
        course="share",
    )
    StateStore.open(settings).add_class(record)
    return record


def outcome(task: str, ok: bool) -> TaskOutcome:
    return TaskOutcome(
        task=task,
        ok=ok,
        checks=(
            CheckOutcome(
                kind=CheckKind.FILE,
                machine="m1",
                ok=ok,
                message=Text(uk="тека є" if ok else "теки немає", en="ok" if ok else "missing"),
            ),
        ),
        at=datetime.now(UTC),
        seconds=0.5,
    )


@dataclass
class Fakes:
    """What the fakes were asked, and how they answer."""

    passes: bool = True
    save_fails: bool = False
    saved: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    reset_to: list[str | None] = field(default_factory=list)

    def check_task(
        self, settings: Settings, record: LabRecord, course: Course, task: Task
    ) -> TaskOutcome:
        self.calls.append(f"check {record.name} {task.id}")
        return outcome(task.id, self.passes)

    def checkpoint(self, settings: Settings, lab: str, name: str, progress: object = None) -> None:
        self.calls.append(f"checkpoint {lab} {name}")
        if self.save_fails:
            raise LabError("no space left for the memory state", hint="free some")
        self.saved.add(name)

    def delete_checkpoint(self, settings: Settings, lab: str, name: str) -> None:
        self.calls.append(f"delete {lab} {name}")
        if name not in self.saved:
            raise NotFoundError(f"no checkpoint {name}")
        self.saved.discard(name)

    def checkpoints(self, settings: Settings, lab: str) -> list[resets.CheckpointInfo]:
        return [
            resets.CheckpointInfo(name=n, created_at=now(), memory=(), size=0)
            for n in sorted(self.saved)
        ]

    def reset(
        self,
        settings: Settings,
        name: str,
        *,
        cold: bool = False,
        to: str | None = None,
        progress: object = None,
    ) -> ResetRecord:
        self.reset_to.append(to)
        return ResetRecord(
            lab=name, mode=ResetMode.MEMORY, ok=True, seconds=1.0, started_at=now(), to=to
        )


def install_fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    fakes = Fakes()
    monkeypatch.setattr(checking, "check_task", fakes.check_task)
    monkeypatch.setattr(resets, "checkpoint", fakes.checkpoint)
    monkeypatch.setattr(resets, "delete_checkpoint", fakes.delete_checkpoint)
    monkeypatch.setattr(resets, "checkpoints", fakes.checkpoints)
    monkeypatch.setattr(resets, "reset", fakes.reset)
    return fakes
