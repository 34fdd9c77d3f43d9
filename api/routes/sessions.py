"""Password logins: `POST /api/v1/login` gives a session token, `POST /api/v1/logout`
ends it. The web page logs in this way; bearer tokens from `lab token create` work as
before, beside sessions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.auth import CurrentUser
from api.errors import UnauthorizedError, error_responses
from api.schemas import LoginRequest, SessionPublic, UserPublic
from lab.access.logins import SESSION_PREFIX, LoginStore

router = APIRouter(prefix="/api/v1", tags=["users"])


def _logins(request: Request) -> LoginStore:
    logins: LoginStore = request.app.state.logins
    return logins


@router.post("/login", responses=error_responses(401, 429))
def login(body: LoginRequest, request: Request) -> SessionPublic:
    """A session token for a user's name and password (no token needed). It works as a
    bearer token until it expires (12 hours) or the user's password changes. Too many
    failed logins lock the account for this source, and the source, for a while (429)."""
    source = request.client.host if request.client else "-"
    found = _logins(request).login(body.name, body.password, source=source)
    if found is None:
        raise UnauthorizedError(
            "wrong name or password",
            hint="a trainee's is on the class's access sheet; an admin sets others:"
            " lab user passwd NAME",
        )
    token, expires, user = found
    request.state.user = user.name  # for the audit log
    return SessionPublic(token=token, expires_at=expires, user=UserPublic.of(user))


@router.post("/logout", status_code=204)
def logout(request: Request, user: CurrentUser) -> Response:
    """End the session the request came with (a bearer token stays valid: revoke it
    with `lab token revoke`)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if token.startswith(SESSION_PREFIX):
        _logins(request).logout(token)
    return Response(status_code=204)
