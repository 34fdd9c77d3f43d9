"""Helpers shared by the route modules: how an accepted operation is answered."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from api.schemas import OperationPublic
from lab.operations import Operation

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: the operation runs; follow its `url`"}
}


def accepted(response: Response, op: Operation) -> OperationPublic:
    public = OperationPublic.from_operation(op)
    response.status_code = 202
    response.headers["Location"] = public.url
    return public
