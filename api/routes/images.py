"""Images: the base disks in the store."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.auth import STAFF, CurrentUser, require
from api.deps import RunnerDep, SettingsDep
from api.errors import error_responses
from api.routes._common import ACCEPTED, accepted
from api.schemas import ImageImport, ImagePublic, ImportPublic, OperationPublic, PrunePublic
from lab.access.users import Role
from lab.base import Progress
from lab.images import ImageStore, profile_stanza
from lab.images.imports import name_from_file
from lab.images.package import drop_file
from lab.images.usage import images_with_users, prune, remove

router = APIRouter(prefix="/api/v1/images", tags=["images"])


@router.get("")
def list_images(user: CurrentUser, settings: SettingsDep) -> list[ImagePublic]:
    """Every named image of the store, with the labs and templates that use it."""
    require(user, *STAFF, Role.TESTER)
    return [ImagePublic.of_use(u) for u in images_with_users(settings)]


@router.post("/prune")
def prune_images(
    user: CurrentUser, settings: SettingsDep, dry_run: Annotated[bool, Query()] = False
) -> PrunePublic:
    """Delete the old builds of images that no lab or template uses (never the newest
    build of an image name); with `?dry_run=true`, only say which and what they free."""
    require(user, *STAFF)
    return PrunePublic.of(prune(settings, dry_run=dry_run))


@router.delete("/{name}", status_code=204)
def delete_image(name: str, user: CurrentUser, settings: SettingsDep) -> Response:
    """Remove an image name (and its build when no other name points at it); 409 naming
    the labs and templates while any uses it."""
    require(user, *STAFF)
    remove(settings, name)
    return Response(status_code=204)


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
