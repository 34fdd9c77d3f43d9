"""`lab course list|show|validate|schema`: the course catalogue on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lab.cli import out, report
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.courses.catalogue import course_json_schema, get_course, list_courses
from lab.courses.loader import load_course
from lab.courses.model import Course, Lang
from lab.courses.words import describe_check
from lab.errors import LabError
from lab.settings import get_settings

course_app = typer.Typer(
    name="course",
    help="Courses: hands-on tasks a class works through, checked from the host side.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `course` group to the `lab` command."""
    app.add_typer(course_app, name="course")


@course_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The courses of the catalogue (LAB_COURSES_DIR), each checked against its profile
    (--json: the valid ones, as the API lists them)."""
    settings = get_settings()
    found = list_courses(settings)
    if as_json:
        from api.schemas import CoursePublic

        valid = (c for c in found if c.valid)
        print_models(CoursePublic.of_course(c.name, get_course(settings, c.name)) for c in valid)
        return
    shown = table("course", "title", "profile", "tasks", "points", "valid")
    for c in found:
        shown.add_row(
            escape(c.name),
            escape(c.title_uk) if c.valid else escape(c.error),
            escape(c.profile),
            str(c.tasks),
            str(c.points),
            "yes" if c.valid else "NO",
        )
    out.print(shown)


@course_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Course name in the catalogue, or a .yaml file")],
    lang: Annotated[str, typer.Option(help="uk or en")] = "uk",
) -> None:
    """A course's tasks: machines, what each check asks, hints and points."""
    try:
        course = _course(name)
    except LabError as error:
        report(error)
        raise typer.Exit(1) from None
    language: Lang = "en" if lang == "en" else "uk"
    out.print(
        f"[bold]{escape(course.title.get(language))}[/] (profile {escape(course.profile)},"
        f" {len(course.tasks)} tasks, {course.points} points)",
        soft_wrap=True,
    )
    out.print(f"for: {escape(course.audience.get(language))}", soft_wrap=True)
    for number, task in enumerate(course.tasks, 1):
        hints = f"{len(task.hints)} hint" + ("" if len(task.hints) == 1 else "s")
        points = f"{task.points} point" + ("" if task.points == 1 else "s")
        start = f", starts from checkpoint {task.checkpoint}" if task.checkpoint else ""
        out.print(
            f"\n{number}. [bold]{escape(task.id)}[/]: {escape(task.title.get(language))}"
            f" (on {escape(task.machine)}, {points}, {hints}{escape(start)})",
            soft_wrap=True,
        )
        for check in task.checks:
            out.print(f"   - {describe_check(task, check)}", markup=False, soft_wrap=True)


@course_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Course files (*.yaml).")],
) -> None:
    """Check course files against their profiles; print every problem with its line."""
    profiles = get_settings().profiles_dir
    failed = False
    for path in paths:
        try:
            course = load_course(path, profiles)
        except LabError as error:
            report(error)
            failed = True
            continue
        out.print(
            f"ok  {escape(str(path))} ({escape(course.profile)}, {len(course.tasks)} tasks,"
            f" {course.points} points)",
            soft_wrap=True,
        )
    if failed:
        raise typer.Exit(1)


@course_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of course files (for editor completion and checks)."""
    out.print(
        json.dumps(course_json_schema(), indent=2, ensure_ascii=False),
        markup=False,
        soft_wrap=True,
    )


def _course(name: str) -> Course:
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return load_course(Path(name), get_settings().profiles_dir)
    return get_course(get_settings(), name)
