"""Operations: list, get, cancel, and live progress as server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse

from api.auth import STAFF, CurrentUser
from api.deps import StoresDep
from api.errors import ForbiddenError
from api.routes._common import ROW_ID
from api.schemas import EventPublic, OperationPublic
from lab.operations.store import Operation, OperationStore

router = APIRouter(prefix="/api/v1/operations", tags=["operations"])
POLL = 0.2  # seconds between looks at the store while an operation runs


def visible_operation(op_id: str, user: CurrentUser, stores: StoresDep) -> Operation:
    """The operation, if the user may see it (staff: all; others: their own)."""
    op = stores.operations.get(op_id)
    if user.role not in STAFF and op.created_by != user.name:
        raise ForbiddenError(
            f"operation {op_id} is not yours", hint="GET /api/v1/operations lists yours"
        )
    return op


VisibleOperation = Annotated[Operation, Depends(visible_operation)]


@router.get("")
def list_operations(user: CurrentUser, stores: StoresDep) -> list[OperationPublic]:
    """The latest operations, newest first (staff: everyone's; others: their own)."""
    mine = None if user.role in STAFF else user.name
    return [OperationPublic.of(op) for op in stores.operations.list_operations(mine)]


@router.get("/{op_id}")
def get_operation(op: VisibleOperation) -> OperationPublic:
    return OperationPublic.of(op)


@router.post("/{op_id}/cancel")
def cancel_operation(op: VisibleOperation, stores: StoresDep) -> OperationPublic:
    """Cancel a pending operation; a running one cannot be stopped safely (409)."""
    return OperationPublic.of(stores.operations.cancel(op.id))


@router.get(
    "/{op_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def operation_events(
    op: VisibleOperation,
    stores: StoresDep,
    last_event_id: Annotated[int, Header(ge=0, le=ROW_ID)] = 0,
) -> StreamingResponse:
    """Progress as server-sent events (`progress`, then one `end` with the operation).

    Resumable: a client that reconnects with `Last-Event-ID` gets only newer events.
    """
    return StreamingResponse(
        _stream(stores.operations, op.id, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )


async def _stream(store: OperationStore, op_id: str, after: int) -> AsyncIterator[str]:
    while True:
        # The status first: once it is final, the events read after it are all there are.
        op = await anyio.to_thread.run_sync(store.get, op_id)
        for event in await anyio.to_thread.run_sync(store.events, op_id, after):
            after = event.seq
            data = EventPublic.of(event).model_dump_json()
            yield f"id: {event.seq}\nevent: progress\ndata: {data}\n\n"
        if op.status.done:
            data = json.dumps(OperationPublic.of(op).model_dump(mode="json"))
            yield f"event: end\ndata: {data}\n\n"
            return
        await anyio.sleep(POLL)
