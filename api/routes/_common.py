"""Helpers shared by the route modules: how an accepted operation is answered."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from api.errors import error_responses
from api.schemas import OperationPublic
from lab.operations.store import Operation

# The largest SQLite INTEGER: an id beyond it is refused (422), not an overflow (500).
ROW_ID = 2**63 - 1

# Every operation is started on something named (a lab, a class, a profile): 404 when
# it is not there, 409 when it is busy with another operation.
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: the operation runs; follow its `url`"},
    **error_responses(404, 409),
}


def accepted(response: Response, op: Operation) -> OperationPublic:
    public = OperationPublic.from_operation(op)
    response.status_code = 202
    response.headers["Location"] = public.url
    return public
