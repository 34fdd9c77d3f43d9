"""`--json`: what a listing or a status command prints for programs.

The models printed are the API's own wire models (api.schemas), built as the matching
route builds them, so a script reads the same field names from `lab ... --json` as from
the API. Plain text on stdout: no highlighting, no colour, nothing a parser must skip.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated

import typer
from pydantic import BaseModel


def print_models(found: BaseModel | Iterable[BaseModel]) -> None:
    """Print one model, or a list of them, as indented JSON and a newline."""
    if isinstance(found, BaseModel):
        data: object = found.model_dump(mode="json")
    else:
        data = [model.model_dump(mode="json") for model in found]
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


JsonOption = Annotated[bool, typer.Option("--json", help="As JSON: the API's fields")]
