"""What a class can be made from, for whoever may make one (staff and trainers)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import STAFF, CurrentUser, require
from api.deps import SettingsDep
from api.schemas import ClassSourcesPublic
from lab.access.users import Role
from lab.classes.sources import class_sources

router = APIRouter(prefix="/api/v1/class-sources", tags=["classes"])


@router.get("")
def list_class_sources(user: CurrentUser, settings: SettingsDep) -> ClassSourcesPublic:
    """The catalogue's valid profiles (name, title) and the templates (name, profile): a
    new class's seats come from one of them (`POST /api/v1/classes`)."""
    require(user, *STAFF, Role.TRAINER)
    return ClassSourcesPublic.of(class_sources(settings))
