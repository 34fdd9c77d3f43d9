"""The software catalogue across communities, for staff, read-only: the product ×
community matrix, one product, outstanding permissions, data formats, the CSV of every
entry, and the unification report (JSON, or a PDF for the Coordination Council).

Every view is a use case's (lab.catalogue.queries), computed once per state of the
profiles directory; its JSON is kept beside it, so a repeated request costs a `stat` of
the directory's files and the write of bytes already made.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from api import catalogue_pdf
from api.auth import STAFF, CurrentUser, require
from api.deps import SettingsDep
from api.errors import error_responses
from lab.catalogue import queries
from lab.catalogue.unification import Unification
from lab.catalogue.views import FormatsView, Matrix, Permissions, ProductView
from lab.profile.software import SoftwareKind

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])
_NO_STORE = {"Cache-Control": "no-store"}

Kind = Annotated[
    SoftwareKind | None,
    Query(description="Only products of this kind (`package`: the inspected packages)"),
]
Packages = Annotated[
    bool, Query(description="Include the inspected packages (kind `package`), left out by default")
]


@router.get("", response_model=Matrix)
def catalogue_matrix(
    user: CurrentUser,
    settings: SettingsDep,
    kind: Kind = None,
    include_packages: Packages = False,
) -> Response:
    """Every product (by name, whatever the case) and the versions each profile runs; the
    profiles, the recommended one, and the profiles that do not load."""
    require(user, *STAFF)
    return _json(
        queries.matrix(settings, date.today(), kind=kind, include_packages=include_packages)
    )


@router.get("/products/{product:path}", response_model=ProductView)
def catalogue_product(
    product: Annotated[str, Path(min_length=1, max_length=80)],
    user: CurrentUser,
    settings: SettingsDep,
) -> Response:
    """One product: every machine of every profile that runs it, with its version, the
    vendor's permission and whether the vendor's support has ended; 404 if none does."""
    require(user, *STAFF)
    return _json(queries.product(settings, date.today(), product))


@router.get("/permissions", response_model=Permissions)
def catalogue_permissions(
    user: CurrentUser, settings: SettingsDep, include_packages: Packages = False
) -> Response:
    """The products whose vendor's permission is needed and not granted yet."""
    require(user, *STAFF)
    return _json(queries.permissions(settings, date.today(), include_packages=include_packages))


@router.get("/formats", response_model=FormatsView)
def catalogue_formats(user: CurrentUser, settings: SettingsDep) -> Response:
    """Every data format in use: which profiles' products read it, which write it."""
    require(user, *STAFF)
    return _json(queries.formats(settings, date.today()))


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV"}},
)
def catalogue_csv(user: CurrentUser, settings: SettingsDep) -> Response:
    """Every entry (profile, machine, product) as CSV, UTF-8 with a byte order mark."""
    require(user, *STAFF)
    return Response(
        queries.export_csv(settings, date.today()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={**_NO_STORE, "Content-Disposition": 'attachment; filename="catalogue.csv"'},
    )


@router.get("/unification", response_model=Unification, responses=error_responses(409))
def catalogue_unification(
    user: CurrentUser, settings: SettingsDep, include_packages: Packages = False
) -> Response:
    """Each community against the recommended stack: products missing, extra, at other
    versions, with other data formats. 409 unless exactly one profile is recommended."""
    require(user, *STAFF)
    return _json(queries.report(settings, include_packages=include_packages))


@router.get(
    "/unification.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF"},
        **error_responses(409),
    },
)
def catalogue_unification_pdf(user: CurrentUser, settings: SettingsDep) -> Response:
    """The unification report to print, in Ukrainian, for the Coordination Council."""
    require(user, *STAFF)
    today = date.today()
    made = queries.report(settings)
    key = (id(made), today)
    with _made_lock:
        found = _pdfs.get(key)
    if found is None or found[0] is not made:
        pdf = catalogue_pdf.render(
            made, queries.stack(settings), queries.matrix(settings, today).profiles, today
        )
        found = (made, pdf)
        with _made_lock:
            _pdfs.clear()  # the last report's only: a PDF is large
            _pdfs[key] = found
    return Response(
        found[1],
        media_type="application/pdf",
        headers={
            **_NO_STORE,
            "Content-Disposition": 'attachment; filename="unification.pdf"',
        },
    )


# The JSON of the views served last, by the view (each is made once per state of the
# directory, day and options, so the same object comes back while nothing changed).
_made: dict[int, tuple[BaseModel, bytes]] = {}
_made_lock = threading.Lock()
_MADE_LIMIT = 64
_pdfs: dict[tuple[int, date], tuple[Unification, bytes]] = {}


def _json(view: BaseModel) -> Response:
    with _made_lock:
        found = _made.get(id(view))
    if found is None or found[0] is not view:
        found = (view, view.model_dump_json().encode("utf-8"))
        with _made_lock:
            if len(_made) >= _MADE_LIMIT:
                _made.clear()
            _made[id(view)] = found
    return Response(found[1], media_type="application/json")
