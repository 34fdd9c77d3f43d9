"""Loading course files: read YAML, validate, cross-check against the profile, locate
every problem.

The same safety and the same located problems as profiles (lab.profile.loader): a course
file is read only if it is a regular file of at most 1 MiB, every problem names its
file, line, column and key path, and all problems of a file are reported together. A
course is checked against the profile it names (`profiles_dir/PROFILE.yaml`): its
machines, accounts and shares must exist, and each check must be one the lab can run
(lab.courses.crosscheck).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lab.courses.crosscheck import DUPLICATE_TASK, course_problems, duplicate_tasks
from lab.courses.model import (
    BaseCheck,
    CheckKind,
    CommandCheck,
    Course,
    FileCheck,
    HttpCheck,
    PortCheck,
    ServiceCheck,
    ShareCheck,
    SqlCheck,
    UserCheck,
)
from lab.errors import InvalidError, LabError, NotFoundError, quote
from lab.labs.naming import valid_lab_name
from lab.profile import Profile, load_profile
from lab.profile.checks import Loc, format_loc
from lab.profile.loader import Unreadable, read_profile_file
from lab.profile.messages import message
from lab.profile.problems import LocatedError, Problem
from lab.profile.tree import Located, read

__all__ = ["CourseError", "course_json_schema", "course_problems", "load_course"]

TOP_KEYS = "title, audience, profile, description, tasks"
COURSE_SCHEMA_HINT = "fix the lines above; `lab course schema` prints the JSON Schema for editors"
_KINDS = frozenset(kind.value for kind in CheckKind)


class CourseError(LocatedError):
    """A course file is not valid. Holds every problem found, in file order."""

    what = "course"
    schema_hint = COURSE_SCHEMA_HINT


def load_course(path: Path, profiles_dir: Path) -> Course:
    """Load and validate the course file at `path` against its profile in `profiles_dir`.

    NotFoundError if the file does not exist, CourseError listing every problem (its own
    and those between it and its profile) if it is not valid.
    """
    path = Path(path)
    try:
        data = read_profile_file(path)
    except FileNotFoundError:
        raise NotFoundError(
            f"course {quote(str(path), 200)} does not exist",
            hint="check the path; samples are in courses/",
        ) from None
    except Unreadable as exc:
        raise InvalidError(f"course {quote(str(path), 200)} {exc}") from None
    return load_course_data(data, str(path), profiles_dir)


def load_course_data(data: bytes, source: str, profiles_dir: Path) -> Course:
    """Validate a course given as bytes; `source` names it in problems."""
    tree, problems = read(data, source, what="course", top_keys=TOP_KEYS)
    if tree is None:
        raise CourseError(problems, source)
    raw = tree.plain()
    course: Course | None = None
    try:
        course = Course.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            loc = _without_tags(tuple(error["loc"]))
            if error["type"] == "too_short" and _has_deeper(loc, errors):
                continue  # pydantic counts only the valid entries; the bad one is reported
            if not loc and DUPLICATE_TASK in str(error["msg"]):
                continue  # course_problems locates it at the second task's id
            at_key = error["type"] == "extra_forbidden"
            problems.append(_problem(tree, loc, _message(error, loc, raw), at_key=at_key))
    for loc, text in duplicate_tasks(raw):
        problems.append(_problem(tree, loc, text))
    profile, why = _profile(raw.get("profile"), profiles_dir)
    if why:
        problems.append(_problem(tree, ("profile",), why))
    if profile is not None:
        for loc, text in course_problems(raw, profile):
            problems.append(_problem(tree, loc, text))
    if problems or course is None:
        raise CourseError(problems, source)
    return course


def _profile(name: Any, profiles_dir: Path) -> tuple[Profile | None, str]:
    """The course's profile, or why there is none ("" when the model reports it)."""
    if not isinstance(name, str):
        return None, ""
    if not valid_lab_name(name):
        return None, f"{quote(name)} is not a profile name (e.g. rural-hromada)"
    path = profiles_dir / f"{name}.yaml"
    if not path.is_file():
        there = sorted(p.stem for p in profiles_dir.glob("[!_]*.yaml"))
        return None, f"no profile named {name!r} (the catalogue has: {', '.join(there) or 'none'})"
    try:
        return load_profile(path), ""
    except LabError as exc:
        lines = exc.message.splitlines()
        return None, f"the profile {name!r} is not valid: " + " ".join(
            line.strip() for line in lines[1:2] or lines[:1]
        )


def _without_tags(loc: Loc) -> Loc:
    """pydantic puts a tagged union's tag in the path (`checks.0.file.contains`); the YAML
    has no such level (`checks[0].contains`)."""
    parts = list(loc)
    i = 2
    while i < len(parts):
        if parts[i - 2] == "checks" and isinstance(parts[i - 1], int) and parts[i] in _KINDS:
            del parts[i]
        i += 1
    return tuple(parts)


def _message(error: ErrorDetails, loc: Loc, raw: Any) -> str:
    kind = error["type"]
    if kind == "check_kind":
        found = _check_keys(raw, loc)
        return f"a check has exactly one of the keys {', '.join(_KINDS_ORDER)} (its kind), " + (
            f"got {' and '.join(found)}" if found else "got none of them"
        )
    if kind == "extra_forbidden" and _in_check(loc):
        model = _check_model(raw, loc[:-1])
        allowed = [f.alias or name for name, f in model.model_fields.items()] if model else []
        return f"unknown key {quote(str(loc[-1]))}" + (
            f" (a {_kind_of(raw, loc[:-1])} check has: {', '.join(allowed)})" if allowed else ""
        )
    return message(error, Course)


_KINDS_ORDER = tuple(kind.value for kind in CheckKind)
_MODELS: dict[str, type[BaseCheck]] = {
    CheckKind.FILE: FileCheck,
    CheckKind.SERVICE: ServiceCheck,
    CheckKind.USER: UserCheck,
    CheckKind.PORT: PortCheck,
    CheckKind.HTTP: HttpCheck,
    CheckKind.COMMAND: CommandCheck,
    CheckKind.SQL: SqlCheck,
    CheckKind.SHARE: ShareCheck,
}


def _in_check(loc: Loc) -> bool:
    return len(loc) == 5 and loc[2] == "checks" and isinstance(loc[3], int)


def _node(raw: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(raw, dict) and isinstance(part, str):
            raw = raw.get(part)
        elif isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw):
            raw = raw[part]
        else:
            return None
    return raw


def _check_keys(raw: Any, loc: Loc) -> list[str]:
    check = _node(raw, loc)
    return [k for k in _KINDS_ORDER if isinstance(check, dict) and k in check]


def _kind_of(raw: Any, loc: Loc) -> str:
    found = _check_keys(raw, loc)
    return found[0] if len(found) == 1 else ""


def _check_model(raw: Any, loc: Loc) -> type[BaseCheck] | None:
    return _MODELS.get(_kind_of(raw, loc))


def _has_deeper(loc: Loc, errors: list[ErrorDetails]) -> bool:
    def cut(e: ErrorDetails) -> Loc:
        return _without_tags(tuple(e["loc"]))

    return any(len(cut(e)) > len(loc) and cut(e)[: len(loc)] == loc for e in errors)


def _problem(tree: Located, loc: Loc, text: str, *, at_key: bool = False) -> Problem:
    mark = tree.locate(loc, at_key=at_key)
    return Problem(mark.file, mark.line, mark.column, format_loc(loc), text)


def course_json_schema() -> dict[str, Any]:
    """The JSON Schema of a course file, for editors (yaml-language-server and the like)."""
    schema = Course.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    for name in ("Text", "Markdown"):  # a plain string is the Ukrainian alone
        if name in defs:
            words = defs[name]
            plain = {"type": "string", **words["properties"]["uk"]}
            plain.pop("title", None)
            defs[name] = {"description": words.get("description", ""), "anyOf": [plain, words]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Hromada Lab course",
        **{k: v for k, v in schema.items() if k != "title"},
    }
