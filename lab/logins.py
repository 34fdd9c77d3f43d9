"""Password logins for API users, and the sessions they open (the web page's way in).

A user may have a password (`lab user passwd NAME`, or a trainee's from a class's
access sheet). Unlike a token, a password is chosen by a person or printed on paper,
so it is stored as a slow, salted scrypt hash. A login opens a **session**: a random
token like a bearer token (stored as its sha256, found by index), which expires
after `SESSION_HOURS`. Setting a new password ends the user's sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from lab.errors import InvalidError, NotFoundError
from lab.state import StateStore, now
from lab.users import User, UserStore, token_hash

SESSION_PREFIX = "hs_"
SESSION_HOURS = 12
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# scrypt at n=2**14, r=8: 16 MiB and some 50 ms per hash: cheap for a login, dear for
# anyone trying a list of passwords against a stolen database.
_N, _R, _P = 2**14, 8, 1
# Generated passwords: no look-alikes (0/O, 1/l/I), so that a printed one is typed right.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS passwords (
    user       TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    hash       TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user);
"""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        kind, n, r, p, salt, digest = encoded.split("$")
        if kind != "scrypt":
            return False
        wanted = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(wanted),
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, wanted)


def new_password(groups: int = 3, size: int = 4) -> str:
    """A random password that reads well on paper: `k7mq-x2rf-9tda` (about 59 bits)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(size)) for _ in range(groups))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# Checked against when the name is unknown, so that a wrong name takes as long as a
# wrong password and the answer's timing does not tell which names exist.
_DUMMY = hash_password(secrets.token_urlsafe(16))


class LoginStore:
    """Password hashes and sessions, in the state database beside users and tokens."""

    def __init__(self, state: StateStore, users: UserStore | None = None) -> None:
        self.state = state
        self.users = users or UserStore(state)
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    def set_password(self, name: str, password: str) -> None:
        """Give the user a (new) password; their open sessions end."""
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidError(
                f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                hint="choose a longer one",
            )
        self.users.get(name)  # NotFoundError for an unknown user
        encoded = hash_password(password)
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO passwords (user, hash, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user) DO UPDATE SET hash = excluded.hash,"
                " updated_at = excluded.updated_at",
                (name, encoded, now().isoformat()),
            )
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def has_password(self, name: str) -> bool:
        with self.state.transaction() as db:
            row = db.execute("SELECT 1 FROM passwords WHERE user = ?", (name,)).fetchone()
        return row is not None

    def login(
        self, name: str, password: str, hours: float = SESSION_HOURS
    ) -> tuple[str, datetime, User] | None:
        """A new session for a right name and password: (token, expiry, user); else None."""
        with self.state.transaction() as db:
            row = db.execute("SELECT hash FROM passwords WHERE user = ?", (name,)).fetchone()
        if not verify_password(password, row[0] if row else _DUMMY) or row is None:
            return None
        user = self.users.get(name)
        if user.disabled:
            return None
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        stamp = now()
        expires = stamp + timedelta(hours=hours)
        with self.state.transaction() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (stamp.isoformat(),))
            db.execute(
                "INSERT INTO sessions (hash, user, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash(token), name, stamp.isoformat(), expires.isoformat()),
            )
        return token, expires, user

    def session_user(self, token: str) -> User | None:
        """The user of a session token that has not expired; None otherwise."""
        if not token.startswith(SESSION_PREFIX):
            return None
        with self.state.transaction() as db:
            row = db.execute(
                "SELECT user FROM sessions WHERE hash = ? AND expires_at > ?",
                (token_hash(token), now().isoformat()),
            ).fetchone()
        if row is None:
            return None
        try:
            user = self.users.get(row[0])
        except NotFoundError:
            return None
        return None if user.disabled else user

    def logout(self, token: str) -> None:
        with self.state.transaction() as db:
            db.execute("DELETE FROM sessions WHERE hash = ?", (token_hash(token),))

    def end_sessions(self, name: str) -> int:
        with self.state.transaction() as db:
            return db.execute("DELETE FROM sessions WHERE user = ?", (name,)).rowcount
