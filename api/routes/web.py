"""The web page (`/`): a static front end in api/web/ that uses only the JSON API.

Its libraries (xterm.js, noVNC) are vendored into api/web/vendor/ by
scripts/vendor-web.sh (run by `make setup`): the browser never loads anything from
the internet, only from this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parents[1] / "web"
# The page loads scripts, styles and images from here only, talks to this server only
# (fetch, websockets), and may not be framed by another site.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self';"
    " style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:;"
    " connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter()


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The page (public: it holds no data; everything it shows comes from the API)."""
    return FileResponse(WEB / "index.html", headers=HEADERS)


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB), name="static")
