"""Use cases of a class: N labs ("seats") of one profile, handled together.

Seats are named CLASS-01 ... CLASS-NN and are ordinary labs, each on its own
isolated networks (with the same addresses inside every seat). Work on a class
runs seats side by side, at most `LAB_PARALLEL` at once, and reports each seat;
one seat failing never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from lab.access import ownership
from lab.base import Progress, quiet
from lab.baselines import generations, resets
from lab.baselines.records import ResetRecord
from lab.classes.records import ClassRecord
from lab.courses import catalogue, runs
from lab.errors import ConflictError, InvalidError, LabError, quote
from lab.labs import lifecycle
from lab.labs.locks import NAMES, lab_lock
from lab.labs.naming import MAX_LAB_NAME, check_lab_name
from lab.labs.plan import plan_lab, profile_name
from lab.labs.records import LabStatus
from lab.placement import admission
from lab.placement.model import Placement
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now
from lab.templates import clones
from lab.templates.store import TemplateStore

MAX_SEATS = 50
# The management subnet of a seat's plan made only to weigh the seat (lab.placement): each
# seat gets its own when it is made.
_ANY = IPv4Network("192.0.2.0/24")
T = TypeVar("T")


class SeatOutcome(BaseModel):
    """What happened to one seat: a result, or the error that stopped it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seat: str
    ok: bool
    error: str = ""
    hint: str = ""
    reset: ResetRecord | None = None


class SeatStatus(BaseModel):
    """One seat as its trainer sees it: there or not, verified, baselined, last reset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seat: str
    status: LabStatus | None  # None: the seat's lab is missing
    verified: bool | None  # the last verification's verdict; None: never verified
    baseline_at: datetime | None
    last_reset: ResetRecord | None
    host: str | None = None  # the lab host it runs on (lab.host); None: missing

    @property
    def ready(self) -> bool:
        """Verified ready: its last reset ended verified, or (never reset) it passed its
        verification, and it runs."""
        if self.status is not LabStatus.RUNNING:
            return False
        if self.last_reset is not None:
            return self.last_reset.ok
        return bool(self.verified)


def seat_statuses(settings: Settings, name: str) -> list[SeatStatus]:
    klass = get_class(settings, name)
    state = StateStore.open(settings)
    found = []
    for seat in klass.seats:
        lab = state.find_lab(seat)
        if lab is None:
            found.append(
                SeatStatus(seat=seat, status=None, verified=None, baseline_at=None, last_reset=None)
            )
            continue
        current = generations.current(lab.plan)
        last = state.resets(seat, limit=1)
        found.append(
            SeatStatus(
                seat=seat,
                status=lab.status,
                verified=lab.verification.passed if lab.verification else None,
                baseline_at=current.created_at if current else None,
                last_reset=last[0] if last else None,
                host=lab.host,
            )
        )
    return found


def seat_names(name: str, seats: int) -> tuple[str, ...]:
    return tuple(f"{name}-{i:02d}" for i in range(1, seats + 1))


def check_new(settings: Settings, name: str, seats: int) -> None:
    """InvalidError or ConflictError unless a class `name` of `seats` seats can be made:
    a valid name and count, no class of that name, no seat name taken (lab.access.ownership).
    Checked before a request is accepted, and again where the class is recorded."""
    check_lab_name(name)
    if len(name) > MAX_LAB_NAME - 3:
        raise InvalidError(
            f"class name {quote(name)} is too long for its seats' names (NAME-01 ...)",
            hint=f"use at most {MAX_LAB_NAME - 3} characters",
        )
    if not 1 <= seats <= MAX_SEATS:
        raise InvalidError(
            f"a class has 1 to {MAX_SEATS} seats, not {seats}", hint="adjust --seats"
        )
    if name in {k.name for k in list_classes(settings)}:
        raise ConflictError(
            f"a class named {quote(name)} exists already",
            hint=f"pick another name, or delete it: lab class delete {name}",
        )
    ownership.check_seats(settings, name, seat_names(name, seats))


def create(
    settings: Settings,
    profile_path: Path | None,
    name: str,
    seats: int,
    progress: Progress = quiet,
    course: str | None = None,
    *,
    template: str | None = None,
    trainer: str | None = None,
) -> tuple[ClassRecord, list[SeatOutcome]]:
    """Bring up `seats` labs of the profile, or (`template`, then `profile_path` is None)
    clone them from a template; the class is recorded even if a seat fails. With
    `course`, the class runs that course (lab.courses.runs): it must load and be written
    for this profile. With `trainer` (a trainer made it), the class is theirs from the
    moment it is recorded: they follow its seats coming up, and may delete it."""
    check_new(settings, name, seats)
    if (profile_path is None) == (template is None):
        raise InvalidError(
            "a class is made from a profile or from a template, not both or neither",
            hint="give the profile, or --template T",
        )
    if template is not None:
        found = TemplateStore(settings).get(template)
        profile, profile_path = found.spec, Path(found.profile_path)
        community = found.profile
    else:
        assert profile_path is not None
        profile = load_profile(profile_path)  # fail on a bad profile before recording
        community = profile_name(profile)
    if course is not None:
        check_course(settings, course, profile_path, community)
    placement = check_fits(settings, name, seats, None if template else profile_path, template)
    record = ClassRecord(
        name=name,
        profile=community,
        profile_path=str(profile_path),
        seats=seat_names(name, seats),
        created_at=now(),
        course=course,
        template=template,
    )
    # Checked and recorded under the names lock: a lab asked for meanwhile by the seat's
    # name is either there before (refused here) or refused as a seat after.
    state = StateStore.open(settings)
    with lab_lock(settings, NAMES, wait=60):
        check_new(settings, name, seats)
        state.add_class(record)
        if trainer is not None:
            ownership.give_class(settings, trainer, name)

    def seat_up(seat: str) -> object:
        host = placement.host_of(seat)
        if template is not None:
            return clones.clone(settings, template, seat, _prefixed(progress, seat), host=host)
        assert profile_path is not None
        return lifecycle.up(settings, profile_path, seat, _prefixed(progress, seat), host=host)

    return record, _each(settings, record.seats, seat_up)


def check_fits(
    settings: Settings,
    name: str,
    seats: int,
    profile_path: Path | None,
    template: str | None = None,
) -> Placement:
    """Each seat's host: the seats of the class, of the profile at `profile_path` or
    cloned from `template`, spread over the open hosts as they are now; CapacityError
    (lab.placement) naming the shortfall per host when they do not fit. Checked before a
    request is accepted, and again before the class is made."""
    names = seat_names(name, seats)
    if template is not None:
        found = TemplateStore(settings).get(template)
        # A seat holds what the template's lab held: its machines are the same.
        plans = [found.plan.model_copy(update={"lab": s}) for s in names]
    else:
        assert profile_path is not None
        profile = load_profile(profile_path)
        plans = [plan_lab(profile, s, settings.prefix, settings.labs_dir, _ANY) for s in names]
    what = f"class {quote(name)} of {seats} seats"
    return admission.place_labs(settings, plans, what)


def check_course(settings: Settings, course: str, profile_path: Path, profile: str) -> None:
    """InvalidError (or the loader's error) unless course `course` loads and runs on the
    profile at `profile_path` (its catalogue name, or its community's name `profile`)."""
    found = catalogue.get_course(settings, course)
    if found.profile not in {profile_path.stem, profile}:
        raise InvalidError(
            f"course {quote(course)} is written for profile {quote(found.profile)},"
            f" not for the class's profile {quote(profile_path.stem)}",
            hint=f"create the class from profile {found.profile}, or pick another course"
            " (`lab course list`)",
        )


def list_classes(settings: Settings) -> list[ClassRecord]:
    return StateStore.open(settings).list_classes()


def get_class(settings: Settings, name: str) -> ClassRecord:
    return StateStore.open(settings).get_class(name)


def baseline(settings: Settings, name: str, progress: Progress = quiet) -> list[SeatOutcome]:
    klass = get_class(settings, name)
    return _each(settings, klass.seats, lambda seat: resets.baseline(settings, seat, progress))


def reset(
    settings: Settings,
    name: str,
    *,
    cold: bool = False,
    to: str | None = None,
    progress: Progress = quiet,
) -> list[SeatOutcome]:
    """Reset every seat to its baseline, or to its checkpoint `to` (a seat without one
    fails, the others go on)."""
    if to is not None:
        generations.check_checkpoint_name(to)
    klass = get_class(settings, name)
    return _each(
        settings,
        klass.seats,
        lambda seat: resets.reset(settings, seat, cold=cold, to=to, progress=progress),
    )


def checkpoint(
    settings: Settings, name: str, checkpoint: str, progress: Progress = quiet
) -> list[SeatOutcome]:
    """Capture checkpoint `checkpoint` of every seat (each seat's own state)."""
    generations.check_checkpoint_name(checkpoint)
    klass = get_class(settings, name)
    return _each(
        settings,
        klass.seats,
        lambda seat: resets.checkpoint(settings, seat, checkpoint, progress),
    )


def delete(settings: Settings, name: str, progress: Progress = quiet) -> list[SeatOutcome]:
    """Take every seat down (with the assignments to it), then forget the class, the
    assignments to it and the trainee users made for its seats (lab.access.ownership), and
    its course results, once written out as CSV (lab.courses.runs.forget_class). All is
    kept if a seat could not be removed, so that it can be retried."""
    klass = get_class(settings, name)
    outcomes = _each(settings, klass.seats, lambda seat: lifecycle.down(settings, seat, progress))
    if all(o.ok for o in outcomes):
        runs.forget_class(settings, klass, progress)
        StateStore.open(settings).delete_class(name)
        for user in ownership.forget_class(settings, klass):
            progress(name, f"access of user {user} to the class ended")
    return outcomes


def _each(
    settings: Settings, seats: tuple[str, ...], work: Callable[[str], object]
) -> list[SeatOutcome]:
    def one(seat: str) -> SeatOutcome:
        try:
            result = work(seat)
        except LabError as exc:
            return SeatOutcome(seat=seat, ok=False, error=exc.message, hint=exc.hint)
        return SeatOutcome(
            seat=seat, ok=True, reset=result if isinstance(result, ResetRecord) else None
        )

    with ThreadPoolExecutor(max_workers=min(settings.parallel, len(seats))) as pool:
        return list(pool.map(one, seats))


def _prefixed(progress: Progress, seat: str) -> Progress:
    def show(subject: str, message: str) -> None:
        progress(seat if subject == "lab" else f"{seat}/{subject}", message)

    return show
