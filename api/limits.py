"""Request bodies are limited before they are buffered.

FastAPI reads a JSON body whole before any dependency (the token check included) runs,
so without a limit anyone could make the server hold any amount of memory with one
request to `/api/v1/login`. `BodyLimit` sits in front of the app: a declared
`Content-Length` over the limit is answered 413 before a byte is read; a streamed
(chunked) body is counted as the app reads it and stops at the limit with 413. Both
answers close the connection, so the rest is never read.

Every route gets `MAX_BODY`; the upload routes (`LARGER`) get their own larger limit,
and only for a request that carries a token at all: the route checks the token before
it reads the body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import TooLargeError, envelope
from api.routes.software import MAX_UPLOAD

MAX_BODY = 1 << 20  # bytes: a JSON request, or a profile to validate (a few KiB)
LARGER: Sequence[tuple[str, re.Pattern[str], int]] = (
    ("POST", re.compile(r"/api/v1/labs/[^/]+/apply"), MAX_UPLOAD),  # a .deb or a playbook
)


def limit_of(scope: Scope, default: int = MAX_BODY) -> int:
    headers = dict(scope.get("headers", ()))
    if b"authorization" in headers:
        for method, pattern, limit in LARGER:
            if scope["method"] == method and pattern.fullmatch(scope["path"]):
                return limit
    return default


def _too_large(limit: int) -> TooLargeError:
    return TooLargeError(
        f"the request body is over {limit} bytes",
        hint="a request's JSON is small; uploads have their own limit (see /openapi.json)",
    )


class BodyLimit:
    def __init__(self, app: ASGIApp, default: int = MAX_BODY) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_of(scope, self.default)
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(limit, scope, receive, send)
            return
        received = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _too_large(limit)
            return message

        async def answer(message: Message) -> None:
            # Whatever the app made of the refused read (FastAPI answers 400 for a body
            # it could not read), the client is told 413.
            nonlocal started
            if over and not started:
                if message["type"] == "http.response.start":
                    started = True
                    await _refuse(limit, scope, receive, send)
                return
            if over:
                return
            await send(message)

        await self.app(scope, counted, answer)


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = _too_large(limit)
    response = envelope(413, error.message, error.hint)
    response.headers["Connection"] = "close"  # the rest of the body is never read
    await response(scope, receive, send)
