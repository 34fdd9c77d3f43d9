"""`lab class ...`, `lab baseline`, `lab checkpoint`, `lab reset`: the trainer's commands."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lab.baselines import resets
from lab.baselines.records import ResetRecord
from lab.classes import classes
from lab.classes.classes import SeatOutcome
from lab.classes.schedules import ScheduleStore
from lab.cli import err, out
from lab.cli.acting import operation
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.courses import runs
from lab.courses.runs import TaskState
from lab.errors import LabError
from lab.settings import get_settings
from lab.store.state import StateStore

class_app = typer.Typer(help="Classes: one lab per trainee seat.", no_args_is_help=True)

ClassOption = Annotated[str | None, typer.Option("--class", help="Every seat of this class")]
ColdOption = Annotated[bool, typer.Option("--cold", help="Boot from the disk layer")]
ToOption = Annotated[
    str | None, typer.Option("--to", help="To this checkpoint instead of the baseline")
]


@class_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Class name; seats are NAME-01 ...")],
    seats: Annotated[int, typer.Option(help="Number of seats (labs)")],
    profile: Annotated[
        Path | None, typer.Argument(help="Profile YAML file (not with --template)")
    ] = None,
    course: Annotated[
        str | None, typer.Option(help="A course of the catalogue (`lab course list`) to run")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(help="Clone every seat from this template instead (`lab template list`)"),
    ] = None,
) -> None:
    """Bring up one lab per seat, several at once (LAB_PARALLEL); with --template, every
    seat is cloned from the template."""
    if (profile is None) == (template is None):
        raise LabError(
            "give either a profile or --template, not both and not neither",
            hint="lab class create PROFILE --name C --seats N"
            " | lab class create --template T --name C --seats N",
        )
    settings = get_settings()
    with operation(settings, "class-create", f"class/{name}") as progress:
        record, outcomes = progress.result(
            classes.create(
                settings, profile, name, seats, progress, course=course, template=template
            )
        )
    running = f", running course {record.course}" if record.course else ""
    _report(
        outcomes, f"class {record.name}: {len(record.seats)} seats of {record.profile}{running}"
    )


@class_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The classes that exist."""
    found = classes.list_classes(get_settings())
    if as_json:
        from api.schemas import ClassPublic

        print_models(ClassPublic.of(k) for k in found)
        return
    shown = table("class", "profile", "seats", "course", "template", "created")
    for k in found:
        created = k.created_at.strftime("%Y-%m-%d %H:%M")
        shown.add_row(
            k.name, k.profile, str(len(k.seats)), k.course or "-", k.template or "-", created
        )
    out.print(shown)


@class_app.command("status")
def status(name: str, as_json: JsonOption = False) -> None:
    """Per seat: lab state, its host, baseline, and the last reset (mode, result, duration)."""
    settings = get_settings()
    if as_json:
        from api.schemas import ClassStatusPublic, SeatStatusPublic

        klass = classes.get_class(settings, name)
        seats = [SeatStatusPublic.of(s) for s in classes.seat_statuses(settings, name)]
        print_models(ClassStatusPublic(name=klass.name, profile=klass.profile, seats=seats))
        return
    shown = table("seat", "lab", "host", "verified", "baseline", "last reset", "result", "took")
    for seat in classes.seat_statuses(settings, name):
        if seat.status is None:
            shown.add_row(seat.seat, "missing", "-", "-", "-", "-", "-", "-")
            continue
        last = seat.last_reset
        verified = {True: "yes", False: "FAILED", None: "not yet"}[seat.verified]
        shown.add_row(
            seat.seat,
            seat.status,
            seat.host or "-",
            verified,
            f"{seat.baseline_at:%H:%M:%S}" if seat.baseline_at else "none",
            f"{last.started_at:%H:%M:%S} ({_how(last)})" if last else "-",
            ("ready" if last.ok else "FAILED") if last else "-",
            f"{last.seconds:.1f} s" if last else "-",
        )
    out.print(shown)


@class_app.command("schedule")
def schedule(
    name: Annotated[str, typer.Argument(help="Class")],
    at: Annotated[str, typer.Option(help="When, with a time zone: 2026-12-01T08:30+02:00")],
    cold: Annotated[bool, typer.Option(help="A cold reset (boot) instead of memory")] = False,
) -> None:
    """Reset the class at a given time; `lab serve` (the service) runs it."""
    settings = get_settings()
    classes.get_class(settings, name)
    try:
        when = datetime.fromisoformat(at)
    except ValueError as exc:
        raise LabError(
            f"{at!r} is not a date and time", hint="e.g. 2026-12-01T08:30+02:00"
        ) from exc
    made = ScheduleStore(StateStore.open(settings)).add(name, when, getpass.getuser(), cold=cold)
    out.print(f"schedule {made.id}: class {name} resets at {made.at.isoformat()}")
    out.print("the service runs it: `lab serve` must be running then")


@class_app.command("schedules")
def schedules(
    name: Annotated[str, typer.Argument(help="Class")], as_json: JsonOption = False
) -> None:
    """A class's scheduled resets: when, status, and the operation each started."""
    settings = get_settings()
    classes.get_class(settings, name)
    found = ScheduleStore(StateStore.open(settings)).list_for(name)
    if as_json:
        from api.schemas import SchedulePublic

        print_models(SchedulePublic.of(s) for s in found)
        return
    shown = table("id", "at", "mode", "status", "operation", "note")
    for s in found:
        shown.add_row(
            str(s.id),
            s.at.isoformat(),
            "cold" if s.cold else "memory",
            s.status,
            s.operation_id or "-",
            s.note,
        )
    out.print(shown)


@class_app.command("delete")
def delete(name: str) -> None:
    """Take every seat down and forget the class."""
    settings = get_settings()
    with operation(settings, "class-delete", f"class/{name}") as progress:
        outcomes = progress.result(classes.delete(settings, name, progress))
    _report(outcomes, f"class {name} deleted")


@class_app.command("board")
def board(
    name: Annotated[str, typer.Argument(help="Class")],
    as_json: Annotated[bool, typer.Option("--json", help="The board as JSON")] = False,
) -> None:
    """The class's course: per seat, its current task, points and each task's state."""
    made = runs.board(get_settings(), name)
    if as_json:
        out.print_json(made.model_dump_json(exclude={"course"}))
        return
    marks = {TaskState.DONE: "[green]✓[/]", TaskState.FAILING: "[red]✗[/]"}
    shown = table("seat", "trainees", "current", "points", *(t.id for t in made.course.tasks))
    for seat in made.seats:
        shown.add_row(
            seat.seat,
            escape(", ".join(seat.trainees)),
            seat.current or "all done",
            f"{seat.earned}/{made.course.points}",
            *(
                f"{marks.get(c.state, '·')} {c.attempts}"
                + (f" h{c.hints_taken}" if c.hints_taken else "")
                for c in seat.cells
            ),
        )
    out.print(shown)
    out.print(f"course {made.name}: ✓ done, ✗ failing, · not started; attempts, hN: hints")


@class_app.command("results")
def results(
    name: Annotated[str, typer.Argument(help="Class")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the CSV here")] = None,
    pdf_file: Annotated[Path | None, typer.Option("--pdf", help="Write the PDF here")] = None,
    lang: Annotated[str, typer.Option(help="The PDF's language: uk or en")] = "uk",
) -> None:
    """The class's course results, as CSV (one row per seat and task) or a PDF to print."""
    if (csv_file is None) == (pdf_file is None) or lang not in ("uk", "en"):
        raise LabError(
            "give one of --csv FILE or --pdf FILE (and --lang uk or en)",
            hint=f"lab class results {name} --csv {name}.csv",
        )
    made = runs.board(get_settings(), name)
    if csv_file is not None:
        csv_file.write_text(runs.results_csv(made), encoding="utf-8", newline="")
        out.print(f"class {name}: results written to {csv_file}")
        return
    from api import results_pdf  # the API's renderer; the CLI needs it only here

    assert pdf_file is not None
    pdf_file.write_bytes(results_pdf.render(made, "en" if lang == "en" else "uk"))
    out.print(f"class {name}: results written to {pdf_file}")


@class_app.command("check")
def check(seat: Annotated[str, typer.Argument(help="A seat of a class running a course")]) -> None:
    """Run the seat's current task's checks and record the attempt (exit 1: not passed)."""
    attempt = runs.check(get_settings(), seat)
    for c in attempt.checks:
        mark = "[green]ok[/]" if c.ok else "[red]FAILED[/]"
        out.print(f"{mark} {c.kind} on {escape(c.machine)}: {escape(c.message.get('uk'))}")
    verdict = "passed" if attempt.ok else "[red]not passed[/]"
    out.print(f"task {attempt.task}: {verdict} ({attempt.seconds:.1f} s)")
    if attempt.advanced_to:
        out.print(f"next task: {attempt.advanced_to}")
    if attempt.note:
        err.print(f"note: {escape(attempt.note)}")
    if not attempt.ok:
        raise typer.Exit(1)


@class_app.command("hint")
def hint(seat: Annotated[str, typer.Argument(help="A seat of a class running a course")]) -> None:
    """Reveal the next hint of the seat's current task (the board counts it)."""
    found = runs.hint(get_settings(), seat)
    out.print(f"hint {found.number} of task {found.task}: {escape(found.hint.get('uk'))}")
    if found.hint.en:
        out.print(f"  ({escape(found.hint.en)})")
    out.print(f"{found.hints_left} left")


@class_app.command("restart-task")
def restart_task(
    seat: Annotated[str, typer.Argument(help="A seat of a class running a course")],
    task: Annotated[
        str | None, typer.Option(help="An earlier task the seat has reached (its id)")
    ] = None,
) -> None:
    """Put the seat's lab back to the start of its current task, or of an earlier one it
    has reached, which becomes current again (results are kept)."""
    settings = get_settings()
    with operation(settings, "task-restart", f"lab/{seat}") as progress:
        done = runs.restart_task(settings, seat, progress, task=task)
    where = f"checkpoint {done.to}" if done.to else "the baseline"
    out.print(f"lab {seat}: back at {where}, {done.mode} reset in {done.seconds:.1f} s")


def baseline(
    name: Annotated[str | None, typer.Argument(help="Lab")] = None, klass: ClassOption = None
) -> None:
    """Capture the clean state (disk + memory) of a lab, or of every seat of a class."""
    settings = get_settings()
    target = _one_target(name, klass)
    if klass:
        with operation(settings, "class-baseline", f"class/{klass}") as progress:
            outcomes = progress.result(classes.baseline(settings, klass, progress))
        _report(outcomes, f"class {klass} baselined")
    else:
        with operation(settings, "baseline", f"lab/{target}") as progress:
            taken = resets.baseline(settings, target, progress)
        out.print(f"lab {target}: baseline {taken.generation} ({', '.join(taken.memory)})")


def reset(
    name: Annotated[str | None, typer.Argument(help="Lab")] = None,
    klass: ClassOption = None,
    cold: ColdOption = False,
    to: ToOption = None,
) -> None:
    """Put a lab (or every seat of a class) back to its baseline, or to a checkpoint,
    verified."""
    settings = get_settings()
    target = _one_target(name, klass)
    if klass:
        class_reset(klass, cold=cold, to=to)
    else:
        with operation(settings, "reset", f"lab/{target}") as progress:
            done = resets.reset(settings, target, cold=cold, to=to, progress=progress)
        note = f" ({done.note})" if done.note else ""
        where = f" to checkpoint {done.to}" if done.to else ""
        out.print(f"lab {target}: ready, {done.mode} reset{where} in {done.seconds:.1f} s{note}")


@class_app.command("reset")
def class_reset(
    name: Annotated[str, typer.Argument(help="Class")],
    cold: ColdOption = False,
    to: ToOption = None,
) -> None:
    """Put every seat back to its baseline, or to its checkpoint, verified."""
    settings = get_settings()
    with operation(settings, "class-reset", f"class/{name}") as progress:
        outcomes = progress.result(
            classes.reset(settings, name, cold=cold, to=to, progress=progress)
        )
    _report(outcomes, f"class {name} reset" + (f" to checkpoint {to}" if to else ""))


def checkpoint(
    name: Annotated[str, typer.Argument(help="Lab")],
    checkpoint: Annotated[str | None, typer.Argument(help="Checkpoint name")] = None,
    list_: Annotated[bool, typer.Option("--list", help="The lab's checkpoints")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the checkpoint")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --list: as JSON, the API's fields")
    ] = False,
) -> None:
    """Capture a lab's state now (disk + memory) as a named checkpoint a reset can go to
    (`lab reset LAB --to NAME`); list or delete its checkpoints."""
    settings = get_settings()
    if list_:
        if checkpoint is not None or delete:
            raise LabError("--list takes only the lab", hint="lab checkpoint LAB --list")
        _list_checkpoints(resets.checkpoints(settings, name), as_json)
    elif checkpoint is None:
        raise LabError(
            "name the checkpoint, or give --list",
            hint="lab checkpoint LAB NAME | LAB --list | LAB NAME --delete",
        )
    elif as_json:
        raise LabError("--json goes with --list", hint=f"lab checkpoint {name} --list --json")
    elif delete:
        with operation(settings, "checkpoint-delete", f"lab/{name}"):
            resets.delete_checkpoint(settings, name, checkpoint)
        out.print(f"lab {name}: checkpoint {checkpoint} deleted")
    else:
        with operation(settings, "checkpoint", f"lab/{name}") as progress:
            taken = resets.checkpoint(settings, name, checkpoint, progress)
        memory = f" ({', '.join(taken.memory)})" if taken.memory else ""
        out.print(f"lab {name}: checkpoint {checkpoint}{memory}")


@class_app.command("checkpoint")
def class_checkpoint(
    name: Annotated[str, typer.Argument(help="Class")],
    checkpoint: Annotated[str, typer.Argument(help="Checkpoint name")],
) -> None:
    """Capture every seat's state now as the named checkpoint (each seat its own)."""
    settings = get_settings()
    with operation(settings, "class-checkpoint", f"class/{name}") as progress:
        outcomes = progress.result(classes.checkpoint(settings, name, checkpoint, progress))
    _report(outcomes, f"class {name}: checkpoint {checkpoint} of every seat")


def _list_checkpoints(found: list[resets.CheckpointInfo], as_json: bool) -> None:
    if as_json:
        from api.schemas import CheckpointPublic

        print_models(CheckpointPublic.of(c) for c in found)
        return
    shown = table("checkpoint", "age", "memory", "size")
    moment = datetime.now(UTC)
    for c in found:
        shown.add_row(
            c.name,
            age(c.created_at, moment),
            ", ".join(c.memory) or "-",
            f"{c.size / 2**20:.0f} MiB",
        )
    out.print(shown)


def age(then: datetime, moment: datetime) -> str:
    """How long ago, in the largest whole unit: `45 s`, `12 min`, `3 h`, `2 d`."""
    seconds = max(0, int((moment - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _how(done: ResetRecord) -> str:
    """A reset's mode, and the checkpoint it went to: `memory`, `memory to after-task-2`."""
    return f"{done.mode} to {done.to}" if done.to else str(done.mode)


def _one_target(name: str | None, klass: str | None) -> str:
    if (name is None) == (klass is None):
        raise LabError("name one lab, or give --class", hint="lab reset NAME | --class CLASS")
    return name or ""


def _report(outcomes: list[SeatOutcome], summary: str) -> None:
    shown = table("seat", "result", "mode", "took", "note")
    for o in outcomes:
        r = o.reset
        shown.add_row(
            o.seat,
            "ok" if o.ok else "[red]FAILED[/]",
            _how(r) if r else "",
            f"{r.seconds:.1f} s" if r else "",
            escape(r.note if r else o.error),
        )
    out.print(shown)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        for o in failed:
            err.print(f"[red]{escape(o.seat)}[/]: {escape(o.error)}")
            if o.hint:
                err.print(f"  hint: {escape(o.hint)}")
        raise typer.Exit(1)
    out.print(summary)


def register(app: typer.Typer) -> None:
    app.add_typer(class_app, name="class")
    app.command()(baseline)
    app.command()(checkpoint)
    app.command()(reset)
