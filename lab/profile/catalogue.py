"""The profile catalogue: the profiles in `LAB_PROFILES_DIR`, by name (for the API).

A profile's name is its file name without `.yaml`; files starting with `_` are
bases other profiles extend and are not offered for labs.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.access import ownership
from lab.access.users import User
from lab.errors import ConflictError, LabError, NotFoundError
from lab.labs.naming import check_lab_name
from lab.labs.plan import profile_name
from lab.profile import Profile, load_profile, load_profile_text
from lab.profile.problems import first_problem
from lab.settings import Settings
from lab.software.roles import known_roles
from lab.store.state import StateStore


class ProfileSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    community: str  # the lab name it defaults to
    title: str
    machines: int
    valid: bool
    error: str = ""


def profile_path(settings: Settings, name: str) -> Path:
    """The catalogue file of profile `name`; NotFoundError if there is none."""
    check_lab_name(name)  # no '/' or '..': the name never leaves the catalogue
    path = settings.profiles_dir / f"{name}.yaml"
    if not path.is_file():
        raise NotFoundError(
            f"no profile named '{name}'", hint="GET /api/v1/profiles lists the profiles"
        )
    return path


def get_profile(settings: Settings, name: str) -> Profile:
    return load_profile(profile_path(settings, name))


def list_profiles(settings: Settings) -> list[ProfileSummary]:
    found: list[ProfileSummary] = []
    for path in sorted(settings.profiles_dir.glob("[!_]*.yaml")):
        try:
            profile = load_profile(path)
        except LabError as exc:  # a broken file is listed, as invalid
            found.append(
                ProfileSummary(
                    name=path.stem,
                    community="",
                    title="",
                    machines=0,
                    valid=False,
                    error=first_problem(settings.profiles_dir, exc),
                )
            )
            continue
        found.append(
            ProfileSummary(
                name=path.stem,
                community=profile_name(profile),
                title=profile.community.title if profile.community else "",
                machines=len(profile.machines),
                valid=True,
            )
        )
    return found


def validate_text(settings: Settings, text: bytes, source: str = "upload.yaml") -> Profile:
    """Validate an uploaded profile, with the same located problems as `lab validate`.

    `extends` may name a base in the catalogue, but only by a plain file name: an
    upload must not make the server read files outside the catalogue (lab.profile).
    """
    roles = known_roles(settings.playbooks_dir)
    return load_profile_text(text, source, settings.profiles_dir, roles)


def new_lab(
    settings: Settings, profile: str, name: str | None, owner: User | None = None
) -> tuple[Path, str]:
    """Check a lab can be created from catalogue profile `profile` for `owner`: (its
    path, lab name).

    Done before accepting the request, so that a wrong name, profile, a taken name or
    one `owner` may not take (lab.access.ownership) is answered at once; whatever needs the
    host (images, libvirt) is the operation's job, which checks ownership again.
    """
    path = profile_path(settings, profile)
    lab = check_lab_name(name or profile_name(load_profile(path)))
    if StateStore.open(settings).find_lab(lab) is not None:
        raise ConflictError(
            f"a lab named '{lab}' exists already", hint="pick another name, or delete it"
        )
    ownership.check_new_lab(settings, lab, owner)
    return path, lab
