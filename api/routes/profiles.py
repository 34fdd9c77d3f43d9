"""Profiles: the catalogue, one profile, and validation of an uploaded profile."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from api.auth import STAFF, CurrentUser, require
from api.deps import SettingsDep
from api.schemas import NAME, ProfilePreviewPublic, ProfileValidation
from lab.access.users import Role
from lab.errors import InvalidError
from lab.labs import preview as previews
from lab.labs.plan import profile_name
from lab.profile import catalogue
from lab.profile.catalogue import ProfileSummary

router = APIRouter(prefix="/api/v1/profiles", tags=["profiles"])
READERS = (*STAFF, Role.TESTER)
MAX_UPLOAD = 1 << 20  # bytes: profiles are a few KiB
_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/yaml": {"schema": {"type": "string"}}},
        "description": "The profile file, as sent by `curl --data-binary @FILE`",
    }
}


@router.get("")
def list_profiles(user: CurrentUser, settings: SettingsDep) -> list[ProfileSummary]:
    """The catalogue's profiles (LAB_PROFILES_DIR), with whether each is valid."""
    require(user, *READERS)
    return catalogue.list_profiles(settings)


@router.get("/{name}")
def get_profile(
    name: Annotated[str, Path(pattern=NAME)], user: CurrentUser, settings: SettingsDep
) -> dict[str, Any]:
    """One profile, resolved (after `extends`), as JSON."""
    require(user, *READERS)
    return catalogue.get_profile(settings, name).model_dump(mode="json", exclude_none=True)


@router.get("/{name}/preview")
def preview_profile(
    name: Annotated[str, Path(pattern=NAME)], user: CurrentUser, settings: SettingsDep
) -> ProfilePreviewPublic:
    """What starting a lab from the profile would make (machines, networks, accounts
    without passwords, tests, software, topology), planned without creating anything."""
    require(user, *READERS)
    return ProfilePreviewPublic.of(previews.preview(settings, name))


@router.post("/validate", openapi_extra=_YAML_BODY)
async def validate(request: Request, user: CurrentUser, settings: SettingsDep) -> ProfileValidation:
    """Validate an uploaded profile: 200, or 422 with every problem located (line, key path)."""
    require(user, *READERS)
    body = await request.body()
    if len(body) > MAX_UPLOAD:
        raise InvalidError(
            f"the profile is {len(body)} bytes; at most {MAX_UPLOAD} are accepted",
            hint="a profile is a short YAML file; check that the right file was sent",
        )
    profile = await run_in_threadpool(catalogue.validate_text, settings, body)
    return ProfileValidation(
        community=profile_name(profile),
        title=profile.community.title if profile.community else "",
        machines=len(profile.machines),
    )
