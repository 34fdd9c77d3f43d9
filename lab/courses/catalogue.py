"""The course catalogue: the courses in `LAB_COURSES_DIR`, by name (for the CLI and the API).

A course's name is its file name without `.yaml`. Every course is checked against its
profile in the profile catalogue (`LAB_PROFILES_DIR`) when it is loaded: a course whose
profile changed so that it no longer fits is listed, as invalid, with its first problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from lab.courses.loader import course_json_schema as _schema
from lab.courses.loader import load_course
from lab.courses.model import Course
from lab.errors import InvalidError, LabError, NotFoundError, quote
from lab.labs.naming import valid_lab_name
from lab.settings import Settings


class CourseSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title_uk: str
    title_en: str
    profile: str
    tasks: int
    points: int
    valid: bool
    error: str = ""


def course_path(settings: Settings, name: str) -> Path:
    """The catalogue file of course `name`; NotFoundError if there is none."""
    if not valid_lab_name(name):  # no '/' or '..': the name never leaves the catalogue
        raise InvalidError(
            f"{quote(name)} is not a course name",
            hint="a course is named by its file name without .yaml; `lab course list` lists them",
        )
    path = settings.courses_dir / f"{name}.yaml"
    if not path.is_file():
        raise NotFoundError(f"no course named '{name}'", hint="`lab course list` lists the courses")
    return path


def get_course(settings: Settings, name: str) -> Course:
    """Course `name` of the catalogue, checked against its profile (CourseError if not
    valid)."""
    return load_course(course_path(settings, name), settings.profiles_dir)


def list_courses(settings: Settings) -> list[CourseSummary]:
    """Every course of the catalogue, in name order; a broken one is listed as invalid."""
    found: list[CourseSummary] = []
    for path in sorted(settings.courses_dir.glob("[!_]*.yaml")):
        try:
            course = load_course(path, settings.profiles_dir)
        except LabError as exc:
            found.append(
                CourseSummary(
                    name=path.stem,
                    title_uk="",
                    title_en="",
                    profile="",
                    tasks=0,
                    points=0,
                    valid=False,
                    error=_first_problem(settings, exc),
                )
            )
            continue
        found.append(
            CourseSummary(
                name=path.stem,
                title_uk=course.title.get("uk"),
                title_en=course.title.get("en"),
                profile=course.profile,
                tasks=len(course.tasks),
                points=course.points,
                valid=True,
            )
        )
    return found


def course_json_schema() -> dict[str, Any]:
    """The JSON Schema of a course file, for editors."""
    return _schema()


def _first_problem(settings: Settings, exc: LabError) -> str:
    """What is wrong with a catalogue course, in one line, its file named as the catalogue
    names it (never by the server's paths)."""
    lines = exc.message.replace(f"{settings.courses_dir}{os.sep}", "").splitlines()
    return " ".join(line.strip() for line in lines[:2])
