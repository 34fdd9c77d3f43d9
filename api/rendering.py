"""JSON of the records read most (labs), rendered once per record and reused.

A lab record read from the state store is one shared, frozen object until its row
changes (see lab.store.state): its JSON is kept beside it, and a changed record is a new
object, so it is rendered anew. Lists are joined from the rendered items, as the
same bytes FastAPI would have produced from `list[LabPublic]`.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Response

from api.schemas import LabPublic
from lab.labs.records import LabRecord

_MAX = 4096  # records remembered; past that the cache starts again
# id(record) -> (the record itself, so that its id is not reused while kept; its JSON)
_LABS: dict[int, tuple[LabRecord, bytes]] = {}


def rendered_lab(lab: LabRecord) -> bytes | None:
    """The lab's JSON if it was rendered already."""
    found = _LABS.get(id(lab))
    return found[1] if found is not None and found[0] is lab else None


def lab_json(lab: LabRecord) -> bytes:
    found = rendered_lab(lab)
    if found is not None:
        return found
    rendered = LabPublic.of(lab).model_dump_json().encode()
    if len(_LABS) >= _MAX:
        _LABS.clear()
    _LABS[id(lab)] = (lab, rendered)
    return rendered


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def json_list(items: Iterable[bytes]) -> Response:
    return json_response(b"[" + b",".join(items) + b"]")
