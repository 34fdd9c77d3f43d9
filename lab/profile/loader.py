"""Loading profiles: read YAML, resolve `extends`, validate, locate every problem.

All problems of a file are reported together, each with file, line, column and key
path. Problems that leave nothing to validate (bad YAML, not UTF-8, an empty file, a
broken `extends`) stop early; everything else (duplicate keys, field errors,
cross-checks) is collected in one pass.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lab.errors import InvalidError, NotFoundError, quote
from lab.profile.checks import SKIP_CROSS_CHECKS, Loc, cross_checks, format_loc, unknown_roles
from lab.profile.messages import message
from lab.profile.models import Profile
from lab.profile.problems import Problem, ProfileError
from lab.profile.tree import Located, Mark, merge, read

_Chain = tuple[tuple[Path, str], ...]
# A profile is a few KiB (the largest sample, with its base: ~10 KiB). Read no more than
# this of any file, so that a profile (or its `extends`) naming /dev/zero or a huge file
# costs nothing.
MAX_PROFILE_BYTES = 1 << 20
# What `extends` may name: YAML files only (never /etc/shadow, read as "unknown keys").
BASE_SUFFIXES = (".yaml", ".yml")


class Unreadable(Exception):
    """A profile file that is not to be read: why, in words for a problem's message."""


def read_profile_file(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_PROFILE_BYTES.

    FileNotFoundError when it is missing; Unreadable when it is not a regular file
    (a device, a FIFO, a directory: checked on the opened file, and opening does not
    wait for a FIFO's writer), too large, or not readable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses a directory
        os.close(fd)
        raise Unreadable("is not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_PROFILE_BYTES + 1)
        except OSError as exc:
            raise Unreadable(f"cannot be read: {exc.strerror}") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise Unreadable(f"is larger than {MAX_PROFILE_BYTES >> 20} MiB: not a profile")
    return data


def load_profile(path: str | Path, roles: Collection[str] | None = None) -> Profile:
    """Load and validate the profile file at `path`, resolving `extends` relative to it.

    Raises NotFoundError if the file does not exist, ProfileError listing every problem
    (of this file and of its bases) if it is not valid. `roles`: the roles that exist
    (lab.software.roles.available); a machine naming another is a located problem too.
    """
    path = Path(path)
    try:
        data = read_profile_file(path)
    except FileNotFoundError:
        raise NotFoundError(
            f"profile {quote(str(path), 200)} does not exist",
            hint="check the path; samples are in profiles/",
        ) from None
    except Unreadable as exc:
        raise InvalidError(f"profile {quote(str(path), 200)} {exc}") from None
    display = str(path)
    chain = ((path.resolve(), display),)
    return _load(data, display, path.parent, chain, plain=False, roles=roles)


def load_profile_text(
    text: str | bytes,
    source: str,
    base_dir: Path | str | None = None,
    roles: Collection[str] | None = None,
) -> Profile:
    """Validate a profile given as text (an API upload); `source` names it in problems.

    `extends` is refused when `base_dir` is None; otherwise it may name only a file of
    `base_dir` itself (normally the catalogue), by a plain file name: text from elsewhere
    (an upload) never makes the server read a file outside it. Bytes are checked to be
    UTF-8.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    base = None if base_dir is None else Path(base_dir)
    return _load(data, source, base, (), plain=True, roles=roles)


def _load(
    data: bytes,
    display: str,
    base_dir: Path | None,
    chain: _Chain,
    *,
    plain: bool,
    roles: Collection[str] | None,
) -> Profile:
    problems: list[Problem] = []
    tree = _resolve(data, display, base_dir, chain, problems, plain=plain)
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
    if roles is not None:
        for loc, text in unknown_roles(raw, roles):
            problems.append(_problem(tree.locate(loc), loc, text))
    if problems or profile is None:
        raise ProfileError(problems, display)
    return profile


def _resolve(
    data: bytes,
    display: str,
    base_dir: Path | None,
    chain: _Chain,
    problems: list[Problem],
    *,
    plain: bool = False,
) -> Located | None:
    """The file's tree merged over its bases; None (with problems) if that is impossible.
    `plain`: `extends` may only be a plain file name (of a file in `base_dir`)."""
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
    refused = _refused_base(name, plain)
    if refused:
        stop(refused)
        return None
    base_path = base_dir / name
    base_display = os.path.normpath(base_path)
    resolved = base_path.resolve()
    if resolved in (seen for seen, _ in chain):
        names = [shown for _, shown in chain] + [base_display]
        stop(f"extends cycle: {' -> '.join(names)}")
        return None
    try:
        base_data = read_profile_file(base_path)
    except FileNotFoundError:
        stop(f"base profile {base_display} does not exist")
        return None
    except Unreadable as exc:
        stop(f"base profile {base_display} {exc}")
        return None
    chain = (*chain, (resolved, base_display))
    base = _resolve(base_data, base_display, base_path.parent, chain, problems)
    return None if base is None else merge(base, tree)


def _refused_base(name: str, plain: bool) -> str:
    """Why `extends: NAME` is refused ("" if it is not): a base is a YAML file, and where
    `plain` holds, one of the base directory itself, named without any directory."""
    if plain and ("/" in name or name.startswith(".")):
        return (
            f"{quote(name)}: a base outside the catalogue is not allowed here; name one of"
            " its profiles by its file name alone (e.g. _common.yaml)"
        )
    if not name.endswith(BASE_SUFFIXES) or "\x00" in name:
        return f"{quote(name)} is not a profile file: a base is a .yaml file, e.g. _common.yaml"
    return ""


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
