"""A class's access sheet: `POST /api/v1/classes/{name}/access-sheet` (JSON, or a PDF
with `?format=pdf`) gives every seat's trainee a new password and shows them once;
`POST .../access-sheet/pdf` renders a sheet got before as a PDF, changing nothing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api import sheet_pdf
from api.auth import Action, CurrentUser, check_class
from api.deps import SettingsDep, StoresDep
from api.schemas import AccessSheetPublic
from lab.access.logins import LoginStore
from lab.classes import access_sheet
from lab.errors import InvalidError

router = APIRouter(prefix="/api/v1/classes", tags=["classes"])
Lang = Annotated[Literal["uk", "en"], Query(description="The PDF's language")]
_PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The sheet (JSON), or with format=pdf the PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_NO_STORE = {"Cache-Control": "no-store"}  # passwords: no cache keeps them


@router.post("/{name}/access-sheet", response_model=AccessSheetPublic, responses=_PDF)
def make_access_sheet(
    name: str,
    request: Request,
    user: CurrentUser,
    settings: SettingsDep,
    stores: StoresDep,
    format: Annotated[Literal["json", "pdf"], Query()] = "json",
    lang: Lang = "uk",
) -> Response:
    """Per seat: the trainee's web login and a new password, the console links, each
    machine's trainee account and its password, and how SSH reaches it. A seat with no
    trainee user gets one named after it. Passwords are shown only in this answer."""
    check_class(user, name, Action.SHEET)
    logins: LoginStore = request.app.state.logins
    sheet = access_sheet.make(settings, stores.users, logins, name, user.name)
    public = AccessSheetPublic.from_sheet(sheet, str(request.base_url))
    if format == "pdf":
        return _pdf(public, lang)
    return JSONResponse(public.model_dump(mode="json"), headers=_NO_STORE)


@router.post(
    "/{name}/access-sheet/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
)
def render_access_sheet(
    name: str, body: AccessSheetPublic, user: CurrentUser, lang: Lang = "uk"
) -> Response:
    """The PDF of a sheet made before (as `POST .../access-sheet` returned it): the same
    passwords as on the page, nothing changed."""
    check_class(user, name, Action.SHEET)
    if body.class_name != name:
        raise InvalidError(
            f"the sheet is of class '{body.class_name}', not '{name}'",
            hint=f"POST it to /api/v1/classes/{body.class_name}/access-sheet/pdf",
        )
    return _pdf(body, lang)


def _pdf(sheet: AccessSheetPublic, lang: Literal["uk", "en"]) -> Response:
    return Response(
        sheet_pdf.render(sheet, lang),
        media_type="application/pdf",
        headers={
            **_NO_STORE,
            "Content-Disposition": f'attachment; filename="access-{sheet.class_name}.pdf"',
        },
    )
