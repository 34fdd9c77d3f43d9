"""The web page (`/`): a static front end in api/web/ that uses only the JSON API.

Its libraries (xterm.js, noVNC) are vendored into api/web/vendor/ by
scripts/vendor-web.sh (run by `make setup`): the browser never loads anything from
the internet, only from this server.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

WEB = Path(__file__).resolve().parents[1] / "web"
# The page loads scripts, styles and images from here only, talks to this server only
# (fetch, and websockets: CSP 3's 'self' matches ws:/wss: to this host and port), and may
# not be framed by another site. Every file under /static/ is sent with them too.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self';"
    " style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:;"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter()


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The page (public: it holds no data; everything it shows comes from the API)."""
    return FileResponse(WEB / "index.html", headers=HEADERS)


class _Static(StaticFiles):
    """The page's files, each with the page's headers (`/static/index.html` is the page)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(HEADERS)
        return response


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", _Static(directory=WEB), name="static")
