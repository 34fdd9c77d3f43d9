"""API users, their roles, their bearer tokens and what they are assigned to.

Tokens are stored only as the sha256 of the token. A token is 32 random bytes from
`secrets`, so nobody can guess one from its hash: slow password hashes (bcrypt,
argon2) exist to protect low-entropy passwords, which a token is not. A plain digest
also lets a request find its token by an indexed lookup instead of trying every hash.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from lab.errors import ConflictError, InvalidError, NotFoundError, quote
from lab.labs.naming import check_lab_name
from lab.settings import Settings
from lab.store.state import StateStore, counted, now

TOKEN_PREFIX = "hl_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    hash       TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    user   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    kind   TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (user, kind, target)
);
CREATE INDEX IF NOT EXISTS assignments_by_target ON assignments (kind, target);
CREATE TABLE IF NOT EXISTS disabled (
    user        TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    disabled_at TEXT NOT NULL
);
""" + counted("users", "users", "tokens", "assignments", "disabled")


class Role(StrEnum):
    ADMIN = "admin"  # everything
    ENGINEER = "engineer"  # images, profiles, labs, classes
    TRAINER = "trainer"  # the classes assigned to them: status, reset, baseline
    TESTER = "tester"  # their own labs: create, delete, reset, test
    TRAINEE = "trainee"  # their own seat only


class AssignmentKind(StrEnum):
    LAB = "lab"  # a trainee's seat, or a lab a tester created
    CLASS = "class"  # a class a trainer runs


class User(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Role
    created_at: datetime
    labs: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    disabled: bool = False  # no token, session or password lets them in


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UserStore:
    """Users, token hashes and assignments, in the state database."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        with state.transaction() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def open(cls, settings: Settings) -> UserStore:
        return cls(StateStore.open(settings))

    def add(self, name: str, role: Role) -> User:
        check_lab_name(name)  # the same rule: short, lower-case, safe in logs and URLs
        stamp = now()
        try:
            with self.state.transaction() as db:
                db.execute(
                    "INSERT INTO users (name, role, created_at) VALUES (?, ?, ?)",
                    (name, role, stamp.isoformat()),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"a user named {quote(name)} exists already",
                hint="`lab user list` shows the users",
            ) from exc
        return User(name=name, role=role, created_at=stamp)

    def get(self, name: str) -> User:
        with self.state.transaction() as db:
            row = db.execute(f"{_SELECT_USERS} WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(
                    f"no user named {quote(name)}", hint="add one: lab user add NAME --role ROLE"
                )
            return _user(db, row)

    def list_users(self) -> list[User]:
        with self.state.transaction() as db:
            rows = db.execute(f"{_SELECT_USERS} ORDER BY name").fetchall()
            return [_user(db, row) for row in rows]

    def remove(self, name: str) -> None:
        """Forget a user with their tokens and assignments (and, through the database's
        cascades, their password and sessions)."""
        with self.state.transaction() as db:
            if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFoundError(f"no user named {quote(name)}", hint="`lab user list`")

    def set_disabled(self, name: str, disabled: bool) -> int:
        """Disable (their tokens go; nothing lets them in) or enable a user again; how
        many tokens went."""
        self.get(name)
        with self.state.transaction() as db:
            if not disabled:
                db.execute("DELETE FROM disabled WHERE user = ?", (name,))
                return 0
            db.execute(
                "INSERT OR IGNORE INTO disabled (user, disabled_at) VALUES (?, ?)",
                (name, now().isoformat()),
            )
            return db.execute("DELETE FROM tokens WHERE user = ?", (name,)).rowcount

    def create_token(self, name: str) -> str:
        """A new token for the user; only its hash is kept, so it is shown once."""
        if self.get(name).disabled:
            raise ConflictError(
                f"user {quote(name)} is disabled", hint=f"enable them first: lab user enable {name}"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.state.transaction() as db:
            db.execute(
                "INSERT INTO tokens (hash, user, created_at) VALUES (?, ?, ?)",
                (token_hash(token), name, now().isoformat()),
            )
        return token

    def authenticate(self, token: str) -> User | None:
        """The user holding `token`, or None for an unknown token.

        Every token's user is read at once and remembered until the next write to
        users, tokens or assignments by any process (see lab.store.state): a revoked token,
        a new role or assignment count at the next request."""
        return self.token_users().get(token_hash(token))

    def token_users(self) -> Mapping[str, User]:
        """Token hash -> user, for every token."""
        with self.state.transaction() as db:
            known: dict[str, User] = self.state.cache.read(
                db, "tokens", "users", lambda: _token_users(db)
            )
        return known

    def tokens_now(self) -> Mapping[str, User] | None:
        """Token hash -> user, if read already and nothing changed since (a counter
        read: microseconds, fit for an event loop); None when they must be read."""
        with self.state.transaction() as db:
            known: dict[str, User] | None = self.state.cache.current(db, "tokens", "users")
        return known

    def revoke_tokens(self, name: str) -> int:
        with self.state.transaction() as db:
            return db.execute("DELETE FROM tokens WHERE user = ?", (name,)).rowcount

    def assign(self, name: str, kind: AssignmentKind, target: str) -> None:
        """Record an assignment. Whether `target` may be assigned is the use case's
        question (lab.access.grants.assign); this only records it."""
        self.get(name)
        check_lab_name(target)
        with self.state.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO assignments (user, kind, target) VALUES (?, ?, ?)",
                (name, kind, target),
            )

    def unassign(self, name: str, kind: AssignmentKind, target: str) -> bool:
        """Forget one assignment; whether there was one."""
        with self.state.transaction() as db:
            return (
                db.execute(
                    "DELETE FROM assignments WHERE user = ? AND kind = ? AND target = ?",
                    (name, kind, target),
                ).rowcount
                > 0
            )

    def assignees(self, kind: AssignmentKind, target: str) -> list[str]:
        """The users `target` is assigned to, by name."""
        with self.state.transaction() as db:
            rows = db.execute(
                "SELECT user FROM assignments WHERE kind = ? AND target = ? ORDER BY user",
                (kind, target),
            ).fetchall()
        return [row[0] for row in rows]

    def unassign_target(self, kind: AssignmentKind, target: str) -> list[str]:
        """Forget every assignment to `target` (a deleted lab or class); whose they were."""
        with self.state.transaction() as db:
            rows = db.execute(
                "DELETE FROM assignments WHERE kind = ? AND target = ? RETURNING user",
                (kind, target),
            ).fetchall()
        return sorted(row[0] for row in rows)


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise InvalidError(
            f"no role named {quote(text)}", hint="roles: " + ", ".join(r.value for r in Role)
        ) from None


def _token_users(db: sqlite3.Connection) -> dict[str, User]:
    """Every token's hash -> its user (with assignments), in three queries of one
    read transaction: one snapshot of the three tables."""
    db.execute("BEGIN")
    assigned: dict[str, list[tuple[str, str]]] = {}
    for user, kind, target in db.execute("SELECT user, kind, target FROM assignments"):
        assigned.setdefault(user, []).append((kind, target))
    users = {row[0]: _make_user(row, assigned.get(row[0], [])) for row in db.execute(_SELECT_USERS)}
    tokens = db.execute("SELECT hash, user FROM tokens").fetchall()
    # A disabled user's tokens are deleted when they are disabled; left out here as well.
    return {
        digest: users[name] for digest, name in tokens if name in users and not users[name].disabled
    }


# Every user with whether they are disabled: (name, role, created_at, disabled).
_SELECT_USERS = (
    "SELECT name, role, created_at, EXISTS (SELECT 1 FROM disabled WHERE user = name) FROM users"
)


def _user(db: sqlite3.Connection, row: tuple[str, str, str, int]) -> User:
    targets = db.execute(
        "SELECT kind, target FROM assignments WHERE user = ?", (row[0],)
    ).fetchall()
    return _make_user(row, targets)


def _make_user(row: tuple[str, str, str, int], targets: list[tuple[str, str]]) -> User:
    name, role, created, disabled = row
    return User(
        name=name,
        role=Role(role),
        created_at=datetime.fromisoformat(created),
        labs=frozenset(t for k, t in targets if k == AssignmentKind.LAB),
        classes=frozenset(t for k, t in targets if k == AssignmentKind.CLASS),
        disabled=bool(disabled),
    )
