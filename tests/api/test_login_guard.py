"""Password logins under attack: throttling per account and source, a bound on password
hashes computed at once, failed attempts in the audit log with the name tried and the
source, and a password policy whoever sets the password (API users, CLI)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import lab.access.logins
from api.app import create_app
from lab.access.audit import AuditLog
from lab.access.logins import LoginStore, new_password
from lab.access.users import Role, UserStore
from lab.cli import users as users_cli
from lab.errors import InvalidError
from lab.settings import Settings, get_settings
from lab.store.state import StateStore

PASSWORD = "a-good-password"
LOGIN = "/api/v1/login"


def _logins(app: FastAPI) -> LoginStore:
    store: LoginStore = app.state.logins
    return store


def _from(app: FastAPI, address: str) -> TestClient:
    """A client whose requests come from `address`."""
    return TestClient(app, client=(address, 40000))


def _try(client: TestClient, name: str, password: str) -> int:
    code: int = client.post(LOGIN, json={"name": name, "password": password}).status_code
    return code


def _failed_logins(settings: Settings) -> list[str]:
    entries = AuditLog(StateStore.open(settings)).list_entries(limit=1000)
    return [e.detail for e in entries if e.action == "login failed"]


def test_wrong_passwords_lock_the_account_for_that_source(
    app: FastAPI, tokens: dict[str, str]
) -> None:
    _logins(app).set_password("trainer", PASSWORD)
    _logins(app).set_password("tester", PASSWORD)
    attacker = _from(app, "10.9.8.7")
    assert [_try(attacker, "trainer", f"guess-{i}-xyz") for i in range(5)] == [401] * 5
    refused = attacker.post(LOGIN, json={"name": "trainer", "password": PASSWORD})
    assert refused.status_code == 429  # the right password too
    assert set(refused.json()) == {"error", "hint", "problems"}
    assert 800 <= int(refused.headers["Retry-After"]) <= 900  # LAB_LOGIN_WINDOW: 900 s
    # Another account from the same source, and the same account from another source.
    assert _try(attacker, "tester", PASSWORD) == 200
    assert _try(_from(app, "10.1.1.1"), "trainer", PASSWORD) == 200


def test_the_lock_lasts_the_window_and_no_longer(app: FastAPI, tokens: dict[str, str]) -> None:
    from lab.access.throttle import LoginThrottle

    now = [1000.0]
    _logins(app).throttle = LoginThrottle(attempts=5, window=900, clock=lambda: now[0])
    _logins(app).set_password("trainer", PASSWORD)
    attacker = _from(app, "10.9.8.7")
    assert [_try(attacker, "trainer", f"guess-{i}-xyz") for i in range(5)] == [401] * 5
    now[0] += 899
    assert _try(attacker, "trainer", PASSWORD) == 429  # still within the window
    now[0] += 2
    assert _try(attacker, "trainer", PASSWORD) == 200


def test_one_source_trying_many_accounts_is_locked_out(
    app: FastAPI, tokens: dict[str, str]
) -> None:
    _logins(app).set_password("tester", PASSWORD)
    sprayer = _from(app, "10.9.8.6")
    codes = [_try(sprayer, f"user{i}", "Summer2026!x") for i in range(20)]
    assert codes == [401] * 20  # 20 names, once each: the source's limit (4 x 5)
    assert _try(sprayer, "tester", PASSWORD) == 429
    assert _try(_from(app, "10.9.8.5"), "tester", PASSWORD) == 200


def test_failed_logins_are_audited_with_the_name_tried_and_the_source(
    app: FastAPI, settings: Settings, tokens: dict[str, str]
) -> None:
    _logins(app).set_password("trainer", PASSWORD)
    attacker = _from(app, "10.9.8.4")
    hostile = "adm\nin\u202e" + "x" * 50  # the schema takes up to 64 characters
    assert _try(attacker, "trainer", "not-the-password") == 401
    assert _try(attacker, hostile, "not-the-password") == 401
    details = _failed_logins(settings)
    assert len(details) == 2
    assert "'trainer'" in details[1] and "10.9.8.4" in details[1]
    assert "10.9.8.4" in details[0]
    assert "\n" not in details[0] and "\u202e" not in details[0]
    assert "'adm\\nin\\u202e" in details[0] and "x" * 40 not in details[0]  # escaped, cut
    for detail in details:
        assert "not-the-password" not in detail


def test_concurrent_logins_hash_a_few_passwords_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        home=tmp_path / "home", libvirt_uri="test:///default", prefix="hlt-", login_hashes=2
    )
    app = create_app(settings)
    UserStore.open(settings).add("olena", Role.TRAINER)
    _logins(app).set_password("olena", PASSWORD)

    running = 0
    peak = 0
    hashed = 0
    lock = threading.Lock()
    verify: Callable[[str, str], bool] = lab.access.logins.verify_password

    def counted(password: str, encoded: str) -> bool:
        nonlocal running, peak, hashed
        with lock:
            running += 1
            hashed += 1
            peak = max(peak, running)
        try:
            time.sleep(0.05)  # a slower hash: more overlap to see
            return verify(password, encoded)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(lab.access.logins, "verify_password", counted)

    async def flood() -> list[int]:
        async def one(i: int) -> int:
            # Each from its own source: the throttle has no say, only the hash gate.
            transport = httpx.ASGITransport(app=app, client=(f"10.2.{i // 200}.{i % 200}", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://lab") as c:
                body = {"name": "olena", "password": f"wrong-{i}-password"}
                return (await c.post(LOGIN, json=body)).status_code

        return list(await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(60))), 60))

    codes = asyncio.run(flood())
    assert len(codes) == 60 and set(codes) <= {401, 429}, codes
    assert peak <= 2, f"{peak} password hashes ran at once"
    assert codes.count(429) > 0  # the excess was refused, not queued without end
    assert codes.count(401) == hashed  # every answered attempt was really checked
    # Afterwards the right password works from anywhere (nothing is left locked).
    with TestClient(app, client=("10.3.0.1", 1)) as client:
        assert _try(client, "olena", PASSWORD) == 200


# -- the password policy ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "password"),
    [
        (Role.ADMIN, "12345678"),
        (Role.ADMIN, "1234567890123"),  # long, but digits only
        (Role.ENGINEER, "Password123"),  # a common one, whatever the case
        (Role.ADMIN, "short-but-ok"[:11]),  # 11 characters: an admin needs 12
        (Role.TRAINER, "olena-2026-x"),  # the user's name in it
        (Role.TRAINER, "aaaaaaaaaaaa"),
        (Role.TESTER, "qwertyuiop"),
        (Role.TRAINEE, "password1"),
    ],
)
def test_weak_passwords_are_refused(tmp_path: Path, role: Role, password: str) -> None:
    state = StateStore.open(Settings(home=tmp_path / "home"))
    users = UserStore(state)
    users.add("olena", role)
    with pytest.raises(InvalidError):
        LoginStore(state, users).set_password("olena", password)


def test_reasonable_and_generated_passwords_are_accepted(tmp_path: Path) -> None:
    state = StateStore.open(Settings(home=tmp_path / "home"))
    users = UserStore(state)
    logins = LoginStore(state, users)
    for name, role in (("boss", Role.ADMIN), ("c3-01", Role.TRAINEE), ("taras", Role.TRAINER)):
        users.add(name, role)
    logins.set_password("boss", "correct horse battery")
    logins.set_password("taras", "trainer-pass-1")
    for _ in range(20):
        logins.set_password("c3-01", new_password())  # the access sheet's


def test_lab_user_passwd_refuses_a_weak_staff_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        UserStore.open(get_settings()).add("boss", Role.ADMIN)
        app = typer.Typer(pretty_exceptions_enable=False)
        users_cli.register(app)
        runner = CliRunner()
        weak = runner.invoke(
            app, ["user", "passwd", "boss", "--password-stdin"], input="12345678\n"
        )
        assert isinstance(weak.exception, InvalidError)
        assert "12 to 1024 characters" in weak.exception.message
        state: Any = StateStore.open(get_settings())
        assert not LoginStore(state).has_password("boss")
        good = runner.invoke(
            app, ["user", "passwd", "boss", "--password-stdin"], input="four unrelated words\n"
        )
        assert good.exit_code == 0, good.output
    finally:
        get_settings.cache_clear()
