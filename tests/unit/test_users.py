from pathlib import Path

import pytest

from lab.access.users import TOKEN_PREFIX, AssignmentKind, Role, UserStore, parse_role, token_hash
from lab.errors import ConflictError, InvalidError, NotFoundError
from lab.store.state import StateStore


def _store(tmp_path: Path) -> UserStore:
    return UserStore(StateStore(tmp_path / "state.db"))


def test_tokens_are_stored_only_as_hashes(tmp_path: Path) -> None:
    users = _store(tmp_path)
    users.add("olena", Role.TRAINER)
    token = users.create_token("olena")
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    data = (tmp_path / "state.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("state.db-*")
    )
    assert token.encode() not in data
    assert token_hash(token).encode() in data
    user = users.authenticate(token)
    assert user is not None and user.name == "olena" and user.role is Role.TRAINER
    assert users.authenticate(token + "x") is None


def test_each_token_is_new_and_revocable(tmp_path: Path) -> None:
    users = _store(tmp_path)
    users.add("ivan", Role.TESTER)
    first, second = users.create_token("ivan"), users.create_token("ivan")
    assert first != second
    assert users.revoke_tokens("ivan") == 2
    assert users.authenticate(first) is None


def test_users_and_assignments(tmp_path: Path) -> None:
    users = _store(tmp_path)
    users.add("petro", Role.TRAINEE)
    with pytest.raises(ConflictError):
        users.add("petro", Role.ADMIN)
    with pytest.raises(NotFoundError):
        users.create_token("nobody")
    with pytest.raises(InvalidError):
        users.add("Bad Name", Role.ADMIN)
    users.assign("petro", AssignmentKind.LAB, "c1-03")
    users.assign("petro", AssignmentKind.LAB, "c1-03")  # idempotent
    assert users.get("petro").labs == {"c1-03"}
    users.unassign_target(AssignmentKind.LAB, "c1-03")
    assert users.get("petro").labs == frozenset()
    assert [u.name for u in users.list_users()] == ["petro"]


def test_parse_role() -> None:
    assert parse_role("engineer") is Role.ENGINEER
    with pytest.raises(InvalidError) as info:
        parse_role("boss")
    assert "trainee" in info.value.hint
