"""Images: the base disks in the store."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import STAFF, CurrentUser, require
from api.deps import SettingsDep
from api.schemas import ImagePublic
from lab.access.users import Role
from lab.images import ImageStore

router = APIRouter(prefix="/api/v1/images", tags=["images"])


@router.get("")
def list_images(user: CurrentUser, settings: SettingsDep) -> list[ImagePublic]:
    """Every named image of the store."""
    require(user, *STAFF, Role.TESTER)
    return [ImagePublic.of(i) for i in ImageStore(settings).list()]
