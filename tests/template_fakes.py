"""Fakes for tests of the templates' CLI commands and routes: the use cases of
lab.templates replaced by stand-ins over a dict, that record what they were asked (no
disk is copied, no machine is started).

Template `t1` (of lab `demo`, profile tiny) is used by labs c1-01 and c1-02; `t2` by none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from lab.access.users import User
from lab.base import Progress, quiet
from lab.classes import classes
from lab.classes.classes import SeatOutcome
from lab.classes.records import ClassRecord
from lab.errors import ConflictError, NotFoundError
from lab.host.model import LOCAL
from lab.labs.plan import LabPlan, plan_lab
from lab.labs.records import LabRecord, LabStatus, VerificationSummary
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now
from lab.templates import clones, templates
from lab.templates.model import Template, TemplateInfo, TemplateLayer, TemplateMachine

PROFILES = Path(__file__).parents[1] / "profiles"
MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def info(name: str, used_by: tuple[str, ...] = ()) -> TemplateInfo:
    return TemplateInfo(
        name=name,
        digest="ab" * 32,
        profile="tiny",
        source_lab="demo",
        created_at=MOMENT,
        machines=("m1",),
        memory=("m1",),
        size=3 * 2**29,
        used_by=used_by,
    )


@dataclass
class TemplateFakes:
    settings: Settings
    templates: dict[str, TemplateInfo] = field(
        default_factory=lambda: {"t1": info("t1", ("c1-01", "c1-02")), "t2": info("t2")}
    )
    asked: list[tuple[str, Any]] = field(default_factory=list)

    def plan(self, lab: str) -> LabPlan:
        profile = load_profile(PROFILES / "tiny.yaml")
        net = IPv4Network("10.250.99.0/24")
        return plan_lab(profile, lab, self.settings.prefix, self.settings.labs_dir, net)

    def found(self, name: str) -> TemplateInfo:
        if name not in self.templates:
            raise NotFoundError(f"no template '{name}'", hint="lab template list")
        return self.templates[name]

    def create(self, _s: Settings, lab: str, name: str, progress: Progress = quiet) -> Template:
        self.asked.append(("create", (lab, name)))
        if name in self.templates:
            raise ConflictError(f"template '{name}' exists", hint="choose another name")
        progress(f"template/{name}", "keeping the baseline")
        made = Template(
            name=name,
            digest="cd" * 32,
            source_lab=lab,
            profile="tiny",
            created_at=MOMENT,
            plan=self.plan(lab),
            image_digests={"m1": "ef" * 32},
            verification=VerificationSummary(passed=True, at=MOMENT, total=1),
            machines=(
                TemplateMachine(
                    name="m1", layers=(TemplateLayer(layer="m1", digest="01" * 32),), memory="x"
                ),
            ),
            size=2**30,
        )
        self.templates[name] = info(name)
        return made

    def list_templates(self, _s: Settings) -> list[TemplateInfo]:
        self.asked.append(("list", ()))
        return list(self.templates.values())

    def get_template(self, _s: Settings, name: str) -> TemplateInfo:
        self.asked.append(("get", name))
        return self.found(name)

    def delete(self, _s: Settings, name: str) -> None:
        self.asked.append(("delete", name))
        used = self.found(name).used_by
        if used:
            raise ConflictError(
                f"template '{name}' is used by labs {', '.join(used)}",
                hint="delete those labs first",
            )
        del self.templates[name]

    def check_new_clone(
        self,
        settings: Settings,
        template: str,
        name: str,
        owner: User | None = None,
        host: str = LOCAL,
    ) -> None:
        self.asked.append(("check", (template, name, owner.name if owner else None, host)))
        self.found(template)
        if StateStore.open(settings).find_lab(name) is not None:
            raise ConflictError(f"lab '{name}' exists", hint="choose another name")

    def clone(
        self,
        _s: Settings,
        template: str,
        name: str,
        progress: Progress = quiet,
        *,
        owner: User | None = None,
        host: str = LOCAL,
    ) -> LabRecord:
        self.asked.append(("clone", (template, name, owner.name if owner else None, host)))
        self.found(template)
        progress(f"lab/{name}", "cloned")
        stamp = now()
        return LabRecord(
            name=name,
            profile="tiny",
            profile_path=str(PROFILES / "tiny.yaml"),
            status=LabStatus.RUNNING,
            plan=self.plan(name),
            template=template,
            owner=owner.name if owner else None,
            created_at=stamp,
            updated_at=stamp,
        )


def install_template_fakes(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> TemplateFakes:
    fakes = TemplateFakes(settings)
    for use_case in ("create", "list_templates", "get_template", "delete"):
        monkeypatch.setattr(templates, use_case, getattr(fakes, use_case))
    for use_case in ("clone", "check_new_clone"):
        monkeypatch.setattr(clones, use_case, getattr(fakes, use_case))
    return fakes


def fake_class_create(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[Path | None, str, int, dict[str, Any]]]:
    """`classes.create` records how it was called and makes the class at once (every seat
    fine); the calls, as (profile path, name, seats, keywords). The fake templates have
    no plan to weigh, so the class's admission (`classes.check_fits`) lets it in: that
    check is tested on its own (tests/api/test_admission.py)."""
    asked: list[tuple[Path | None, str, int, dict[str, Any]]] = []

    def create(
        _s: object, profile: Path | None, name: str, seats: int, _p: object = None, **kw: Any
    ) -> tuple[ClassRecord, list[SeatOutcome]]:
        asked.append((profile, name, seats, kw))
        made = ClassRecord(
            name=name,
            profile="tiny",
            profile_path="",
            seats=tuple(f"{name}-{i:02}" for i in range(1, seats + 1)),
            created_at=now(),
        )
        return made, [SeatOutcome(seat=s, ok=True) for s in made.seats]

    monkeypatch.setattr(classes, "create", create)
    monkeypatch.setattr(classes, "check_fits", lambda *_a, **_k: None)
    return asked
