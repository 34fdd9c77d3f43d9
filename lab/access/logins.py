"""Password logins for API users, and the sessions they open (the web page's way in).

A user may have a password (`lab user passwd NAME`, or a trainee's from a class's
access sheet). Unlike a token, a password is chosen by a person or printed on paper,
so it is stored as a slow, salted scrypt hash. A login opens a **session**: a random
token like a bearer token (stored as its sha256, found by index), which expires
after `SESSION_HOURS`. Setting a new password ends the user's sessions.

A login is throttled (lab.access.throttle): failed attempts are counted per account and source,
and refused for a while past a limit; hashes run a few at a time. Each failed attempt is
in the audit log with a short, escaped excerpt of the name tried and where it came from.
A password must pass `check_password`, whoever sets it (CLI or access sheet).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta

from lab.access.audit import AuditLog, excerpt
from lab.access.throttle import HashGate, LoginThrottle
from lab.access.users import Role, User, UserStore, token_hash
from lab.errors import InvalidError, NotFoundError
from lab.store.state import StateStore, now

SESSION_PREFIX = "hs_"
SESSION_HOURS = 12
MIN_PASSWORD = 8
MIN_STAFF_PASSWORD = 12  # admins and engineers: their session runs the Centre's labs
MAX_PASSWORD = 1024
# Refused whatever their length: the first passwords any list of guesses tries.
_COMMON = """password password1 password123 passw0rd qwerty qwerty123 qwertyuiop qwerty12345
    1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx abc12345 abcd1234 abcdefgh asdfghjk asdfghjkl
    iloveyou letmein welcome welcome1 welcome123 admin123 administrator changeme trustno1
    sunshine princess football baseball dragon monkey superman starwars whatever
    йцукенгш йцукенгшщз пароль пароль123 parol123 ukraine1 ukraina1 hromada1 hromada123
    trainer123 engineer123 trainee123 tester123 student123 teacher123 school123"""
COMMON_PASSWORDS = frozenset(_COMMON.split())
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


def check_password(name: str, role: Role, password: str) -> None:
    """InvalidError unless `password` is acceptable for user `name` of `role`."""
    least = MIN_STAFF_PASSWORD if role in (Role.ADMIN, Role.ENGINEER) else MIN_PASSWORD
    if not least <= len(password) <= MAX_PASSWORD:
        raise InvalidError(
            f"a password has {least} to {MAX_PASSWORD} characters",
            hint="choose a longer one" + (" (admins and engineers: 12)" if least > 8 else ""),
        )
    folded = password.casefold()
    problem = ""
    if folded.isdigit():
        problem = "only digits"
    elif len(set(folded)) <= 2:
        problem = "one or two characters repeated"
    elif folded in name.casefold() or (len(name) >= 3 and name.casefold() in folded):
        problem = "the user's name"
    elif folded in COMMON_PASSWORDS or folded.rstrip("0123456789!.") in COMMON_PASSWORDS:
        problem = "a common password"
    if problem:
        raise InvalidError(
            f"the password is {problem}: too easy to guess",
            hint="a few unrelated words, or let the access sheet make one",
        )


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

    def __init__(
        self,
        state: StateStore,
        users: UserStore | None = None,
        *,
        throttle: LoginThrottle | None = None,
        gate: HashGate | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.state = state
        self.users = users or UserStore(state)
        self.throttle = throttle or LoginThrottle()
        self.gate = gate or HashGate(workers=os.cpu_count() or 1)
        self.audit = audit or AuditLog(state)
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    def set_password(self, name: str, password: str) -> None:
        """Give the user a (new) password; their open sessions end."""
        user = self.users.get(name)  # NotFoundError for an unknown user
        check_password(name, user.role, password)
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
        self, name: str, password: str, hours: float = SESSION_HOURS, source: str = "-"
    ) -> tuple[str, datetime, User] | None:
        """A new session for a right name and password: (token, expiry, user); else None.
        `source` is where the attempt came from (an address). ThrottledError while the
        account or the source is locked, or when too many logins are being checked."""
        self.throttle.check(name, source)
        with self.state.transaction() as db:
            row = db.execute("SELECT hash FROM passwords WHERE user = ?", (name,)).fetchone()
        right = self.gate.run(verify_password, password, row[0] if row else _DUMMY)
        if not right or row is None:
            locked = self.throttle.failed(name, source)
            detail = f"name {excerpt(name)} from {excerpt(source)}"
            if locked:
                detail += f"; locked for {self.throttle.window:g} s"
            self.audit.add("-", "login failed", "", "401", detail)
            return None
        user = self.users.get(name)
        if user.disabled:
            return None
        self.throttle.succeeded(name, source)
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
