"""Templates: a verified lab's frozen state, kept to clone labs and classes from.

Staff make and delete them; a tester may read them too, since they clone labs from them
(`POST /api/v1/labs` with `template`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.auth import STAFF, CurrentUser, require
from api.deps import RunnerDep, SettingsDep
from api.routes._common import ACCEPTED, accepted
from api.schemas import OperationPublic, TemplateCreate, TemplatePublic
from lab.access.users import Role
from lab.base import Progress
from lab.labs import lifecycle
from lab.templates import templates
from lab.templates.model import TEMPLATE_NAME

# A name that cannot be a template's is refused (422) before any use case sees it.
TemplateName = Annotated[str, Path(pattern=TEMPLATE_NAME.pattern)]

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


@router.get("")
def list_templates(user: CurrentUser, settings: SettingsDep) -> list[TemplatePublic]:
    """Every template: where it came from, its size, and the labs cloned from it."""
    require(user, *STAFF, Role.TESTER)
    return [TemplatePublic.of(t) for t in templates.list_templates(settings)]


@router.post("", status_code=202, responses=ACCEPTED)
def create_template(
    body: TemplateCreate,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    runner: RunnerDep,
) -> OperationPublic:
    """Keep a verified lab's baseline (disk layers and memory states) as a template (an
    operation: 202). 404 at once for no such lab, 409 for a taken template name."""
    require(user, *STAFF)
    lifecycle.get_lab(settings, body.lab)
    templates.check_free(settings, body.name)

    def work(progress: Progress) -> TemplatePublic:
        return TemplatePublic.of(templates.create(settings, body.lab, body.name, progress))

    op = runner.submit("template", f"template/{body.name}", user.name, work, lock=body.lab)
    return accepted(response, op)


@router.get("/{name}")
def get_template(name: TemplateName, user: CurrentUser, settings: SettingsDep) -> TemplatePublic:
    require(user, *STAFF, Role.TESTER)
    return TemplatePublic.of(templates.get_template(settings, name))


@router.delete("/{name}", status_code=204)
def delete_template(name: TemplateName, user: CurrentUser, settings: SettingsDep) -> Response:
    """Remove the template (409, naming them, while labs cloned from it exist)."""
    require(user, *STAFF)
    templates.delete(settings, name)
    return Response(status_code=204)
