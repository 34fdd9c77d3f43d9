"""pydantic's validation errors, reworded for a Centre engineer.

pydantic says "Extra inputs are not permitted" and "Input should be a valid
dictionary"; a person editing YAML wants "unknown key 'foo' (allowed: ...)" and
"expected a mapping (key: value lines), got a list".
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from lab.profile.checks import Loc
from lab.profile.types import describe, shown


def message(error: ErrorDetails, root: type[BaseModel]) -> str:
    """One error's message in plain words. `root` is the model validated at loc ()."""
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    got = describe(value)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        return f"unknown key {shown(loc[-1])}" + (
            f" (allowed: {', '.join(allowed)})" if allowed else ""
        )
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (key: value lines), got {got}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list (lines starting with '- '), got {got}"
    if kind == "string_type":
        return f"expected text, got {got} (put it in quotes)"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {got}"
    if kind == "enum":
        return f"{shown(value)} is not one of: {ctx.get('expected', '').replace(chr(39), '')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {value}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} entry, got none"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return error["msg"]


def _allowed_keys(root: type[BaseModel], loc: Loc) -> list[str]:
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not isinstance(fields, dict) or part not in fields:
            return []
        model = _unwrap(fields[part].annotation)
    fields = getattr(model, "model_fields", None)
    return list(fields) if isinstance(fields, dict) else []


def _unwrap(annotation: Any) -> Any:
    """`tuple[Nic, ...]` -> Nic, `Community | None` -> Community."""
    while True:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not ...]
        if origin in (tuple, list, typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
        else:
            return annotation
