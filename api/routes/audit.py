"""The audit log: who did what to which lab or class, when, with what result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import STAFF, CurrentUser, require
from api.deps import StoresDep
from api.schemas import AuditPublic

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
def list_audit(
    user: CurrentUser,
    stores: StoresDep,
    target: Annotated[str | None, Query(description="e.g. lab/demo or class/c1")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """Newest first."""
    require(user, *STAFF)
    return [AuditPublic.of(e) for e in stores.audit.list_entries(target, limit)]
