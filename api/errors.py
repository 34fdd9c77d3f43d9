"""One envelope for every error, and one function from internal errors to HTTP codes.

    {"error": "no lab named 'x'", "hint": "`lab list` shows ...", "problems": []}

`problems` lists located problems (a profile's file:line:column, or a request
body's field path) for 422 answers; it is empty otherwise.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import ErrorPublic, ProblemPublic
from lab.errors import ConflictError, InvalidError, LabError, NotFoundError
from lab.profile import ProfileError

log = logging.getLogger("hromada.api")


class UnauthorizedError(LabError):
    """No token, or a token nobody holds."""


class ForbiddenError(LabError):
    """A valid token, but the action or the lab is outside the user's role."""


def status_of(error: LabError) -> int:
    """The HTTP status of an internal error; anything unexpected is a real failure (500)."""
    for kind, status in (
        (UnauthorizedError, 401),
        (ForbiddenError, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (InvalidError, 422),
    ):
        if isinstance(error, kind):
            return status
    return 500


def envelope(
    status: int, error: str, hint: str = "", problems: list[ProblemPublic] | None = None
) -> JSONResponse:
    body = ErrorPublic(error=error, hint=hint, problems=problems or [])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the envelope."""

    async def lab_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LabError)
        status = status_of(exc)
        if status == 500:
            log.error("request failed: %s", exc.message)
        problems = None
        if isinstance(exc, ProfileError):
            problems = [
                ProblemPublic(
                    file=p.file, line=p.line, column=p.column, path=p.path, message=p.message
                )
                for p in exc.problems
            ]
        return envelope(status, exc.message, exc.hint, problems)

    async def invalid_request(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            ProblemPublic(
                path=".".join(str(part) for part in e.get("loc", ())),
                message=str(e.get("msg", "invalid")),
            )
            for e in exc.errors()
        ]
        return envelope(
            422, "invalid request", "the problems list each wrong field; see /docs", problems
        )

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        text = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return envelope(exc.status_code, text, "see /docs for the API's endpoints")

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return envelope(500, "internal error", "the server log has the details")

    app.add_exception_handler(LabError, lab_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
