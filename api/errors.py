"""One envelope for every error, and one function from internal errors to HTTP codes.

    {"error": "no lab named 'x'", "hint": "`lab list` shows ...", "problems": []}

`problems` lists located problems (a profile's file:line:column, or a request
body's field path) for 422 answers; it is empty otherwise.

The OpenAPI document declares these answers too (`document`), by rule, so that a new
route cannot forget them: 400 where a JSON body may not decode, 401 and 403 where a
token is needed, 404 where a path names something, 409 where a request changes a named
thing or starts an operation, 413 where there is a body (api.limits), and 422, with
this envelope rather than FastAPI's default shape, wherever there is input. 429 (too
many attempts, with Retry-After) is declared by the routes that give it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import ErrorPublic, ProblemPublic
from lab.errors import ConflictError, InvalidError, LabError, NotFoundError, ThrottledError
from lab.profile.problems import LocatedError
from lab.redact import path_redactor

log = logging.getLogger("hromada.api")


class UnauthorizedError(LabError):
    """No token, or a token nobody holds."""


class ForbiddenError(LabError):
    """A valid token, but the action or the lab is outside the user's role."""


class TooLargeError(LabError):
    """A request body over the limit of its route (api.limits)."""


def status_of(error: LabError) -> int:
    """The HTTP status of an internal error; anything unexpected is a real failure (500)."""
    for kind, status in (
        (UnauthorizedError, 401),
        (ForbiddenError, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (InvalidError, 422),
        (TooLargeError, 413),
        (ThrottledError, 429),
    ):
        if isinstance(error, kind):
            return status
    return 500


def envelope(
    status: int,
    error: str,
    hint: str = "",
    problems: list[ProblemPublic] | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    body = ErrorPublic(error=error, hint=hint, problems=problems or [])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the envelope."""

    async def lab_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LabError)
        status = status_of(exc)
        if status == 500:
            log.error("request failed: %s", exc.message)
        redact = path_redactor(request.app.state.settings)  # no server paths in answers
        problems = None
        if isinstance(exc, LocatedError):  # a profile's or a course's
            problems = [
                ProblemPublic(
                    file=redact(p.file),
                    line=p.line,
                    column=p.column,
                    path=p.path,
                    message=redact(p.message),
                )
                for p in exc.problems
            ]
        retry_after = exc.retry_after if isinstance(exc, ThrottledError) else None
        return envelope(status, redact(exc.message), redact(exc.hint), problems, retry_after)

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
            422,
            "invalid request",
            "the problems list each wrong field; see /openapi.json",
            problems,
        )

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        text = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return envelope(exc.status_code, text, "/openapi.json describes the API's endpoints")

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return envelope(500, "internal error", "the server log has the details")

    app.add_exception_handler(LabError, lab_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    app.openapi = _documented(app.openapi)  # type: ignore[method-assign]


ERRORS = {
    400: "The body is not readable as JSON",
    401: "No token, or one nobody holds",
    403: "The user's role or assignments do not allow this",
    404: "Not found",
    409: "Conflict: busy with another operation, exists already, or too late",
    413: "The request body is over this route's limit",
    422: "Invalid input: `problems` lists each wrong field",
    429: "Too many attempts or requests at once: try again after `Retry-After` seconds",
}
_MUTATING = frozenset({"post", "put", "patch", "delete"})
_ERROR_REF = "#/components/schemas/ErrorPublic"
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers `codes` beyond what `document` infers."""
    return {code: {"model": ErrorPublic, "description": ERRORS[code]} for code in codes}


def _documented(generate: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    done: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's, cached until the routes change
        if done != [id(schema)]:
            document(schema)
            done[:] = [id(schema)]
        return schema

    return openapi


def document(schema: dict[str, Any]) -> None:
    """Declare the error answers of every operation in an OpenAPI document (in place)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    model = ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in model.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault("ErrorPublic", model)
    for item in schema.get("paths", {}).values():
        for method, op in item.items():
            if isinstance(op, dict) and "responses" in op:
                _document_operation(method, op)
    if _FASTAPI_422 not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def _document_operation(method: str, op: dict[str, Any]) -> None:
    params = op.get("parameters", [])
    named = any(p.get("in") == "path" for p in params)
    codes: list[int] = []
    if "application/json" in op.get("requestBody", {}).get("content", {}):
        codes.append(400)  # FastAPI's answer to a body it cannot decode at all
    if op.get("security"):
        codes += [401, 403]
    if named:
        codes.append(404)
    if method in _MUTATING and (named or "202" in op["responses"]):
        codes.append(409)
    if "requestBody" in op:
        codes.append(413)
    if params or "requestBody" in op:
        codes.append(422)
    responses: dict[str, Any] = op["responses"]
    for code in codes:
        existing = responses.get(str(code))
        if existing is None or _FASTAPI_422 in str(existing):
            responses[str(code)] = {
                "description": ERRORS[code],
                "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
            }
