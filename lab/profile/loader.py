"""Loading profiles: read YAML, resolve `extends`, validate, locate every problem.

All problems of a file are reported together, each with file, line, column and key
path. Problems that leave nothing to validate (bad YAML, not UTF-8, an empty file, a
broken `extends`) stop early; everything else (duplicate keys, field errors,
cross-checks) is collected in one pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lab.errors import InvalidError, NotFoundError
from lab.profile.checks import SKIP_CROSS_CHECKS, Loc, cross_checks, format_loc
from lab.profile.messages import message
from lab.profile.models import Profile
from lab.profile.problems import Problem, ProfileError
from lab.profile.tree import Located, Mark, merge, read

_Chain = tuple[tuple[Path, str], ...]


def load_profile(path: str | Path) -> Profile:
    """Load and validate the profile file at `path`, resolving `extends` relative to it.

    Raises NotFoundError if the file does not exist, ProfileError listing every problem
    (of this file and of its bases) if it is not valid.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"profile {path} does not exist", hint="check the path; samples are in profiles/"
        ) from None
    except OSError as exc:
        raise InvalidError(f"cannot read profile {path}: {exc.strerror}") from None
    display = str(path)
    return _load(data, display, path.parent, ((path.resolve(), display),))


def load_profile_text(
    text: str | bytes, source: str, base_dir: Path | str | None = None
) -> Profile:
    """Validate a profile given as text (an API upload); `source` names it in problems.

    `extends` is resolved relative to `base_dir` (normally the profiles directory) and
    is refused when `base_dir` is None, so an upload cannot read arbitrary files unless
    the caller allows it. Bytes are checked to be UTF-8.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    return _load(data, source, None if base_dir is None else Path(base_dir), ())


def _load(data: bytes, display: str, base_dir: Path | None, chain: _Chain) -> Profile:
    problems: list[Problem] = []
    tree = _resolve(data, display, base_dir, chain, problems)
    if tree is None:
        raise ProfileError(problems, display)
    raw = tree.plain()
    profile: Profile | None = None
    try:
        profile = Profile.model_validate(raw, context={SKIP_CROSS_CHECKS: True})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            loc = tuple(error["loc"])
            if error["type"] == "too_short" and _has_deeper(loc, errors):
                continue  # pydantic counts only the valid entries; the bad one is reported
            at_key = error["type"] == "extra_forbidden"
            problems.append(_problem(tree.locate(loc, at_key=at_key), loc, message(error, Profile)))
    for loc, text in cross_checks(raw):
        problems.append(_problem(tree.locate(loc), loc, text))
    if problems or profile is None:
        raise ProfileError(problems, display)
    return profile


def _resolve(
    data: bytes, display: str, base_dir: Path | None, chain: _Chain, problems: list[Problem]
) -> Located | None:
    """The file's tree merged over its bases; None (with problems) if that is impossible."""
    tree, found = read(data, display)
    problems.extend(found)
    if tree is None:
        return None
    extends = tree.value.pop("extends", None)
    tree.keys.pop("extends", None)
    if extends is None:
        return tree

    def stop(text: str) -> None:
        problems.append(_problem(extends.mark, ("extends",), text))

    name = extends.value
    if not isinstance(name, str) or not name.strip():
        stop("expected the file name of a base profile, e.g. _common.yaml")
        return None
    if base_dir is None:
        stop("`extends` is not allowed here: upload the profile with its base merged in")
        return None
    base_path = base_dir / name
    base_display = os.path.normpath(base_path)
    resolved = base_path.resolve()
    if resolved in (seen for seen, _ in chain):
        names = [shown for _, shown in chain] + [base_display]
        stop(f"extends cycle: {' -> '.join(names)}")
        return None
    try:
        base_data = base_path.read_bytes()
    except FileNotFoundError:
        stop(f"base profile {base_display} does not exist")
        return None
    except OSError as exc:
        stop(f"cannot read base profile {base_display}: {exc.strerror}")
        return None
    chain = (*chain, (resolved, base_display))
    base = _resolve(base_data, base_display, base_path.parent, chain, problems)
    return None if base is None else merge(base, tree)


def _has_deeper(loc: Loc, errors: list[ErrorDetails]) -> bool:
    return any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors)


def _problem(mark: Mark, loc: Loc, text: str) -> Problem:
    return Problem(mark.file, mark.line, mark.column, format_loc(loc), text)


def profile_json_schema() -> dict[str, Any]:
    """The JSON Schema of a profile file, for editors (yaml-language-server and the like)."""
    schema = Profile.model_json_schema()
    properties = {
        "extends": {
            "type": "string",
            "description": "Base profile file, relative to this file; merged under this one",
        },
        **schema["properties"],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Hromada Lab profile",
        **{k: v for k, v in schema.items() if k != "title"},
        "properties": properties,
    }
