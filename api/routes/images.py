"""Images: the base disks in the store."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.auth import STAFF, CurrentUser, require
from api.deps import RunnerDep, SettingsDep
from api.errors import error_responses
from api.routes._common import ACCEPTED, accepted
from api.schemas import ImageImport, ImagePublic, ImportPublic, OperationPublic
from lab.access.users import Role
from lab.base import Progress
from lab.images import ImageStore, profile_stanza
from lab.images.imports import name_from_file
from lab.images.package import drop_file

router = APIRouter(prefix="/api/v1/images", tags=["images"])


@router.get("")
def list_images(user: CurrentUser, settings: SettingsDep) -> list[ImagePublic]:
    """Every named image of the store."""
    require(user, *STAFF, Role.TESTER)
    return [ImagePublic.of(i) for i in ImageStore(settings).list()]


@router.post("/import", status_code=202, responses=ACCEPTED | error_responses(422))
def import_image(
    body: ImageImport,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Import a disk, .ova or .ovf that staff put in the server's import directory: one
    image per disk (an operation: 202); its result lists them with the profile stanza."""
    require(user, *STAFF)
    path = drop_file(settings.drop_dir, body.file)  # 404/422 at once
    name = body.name or name_from_file(path)

    def work(progress: Progress) -> ImportPublic:
        result = ImageStore(settings).import_file(path, name, lambda m: progress(name, m))
        return ImportPublic(
            images=[ImagePublic.of(i) for i in result.images],
            hints=result.hints,
            stanza=profile_stanza(result, name),
        )

    return accepted(response, runner.submit("image-import", f"image/{name}", user.name, work))
