"""No key, password, token or ticket in logs, answers or error messages .

The secrets are made for real (bearer tokens, a login session, a user password, a
class's access sheet, a lab's SSH key and account passwords, console tickets); then
the API is driven through its error paths (bad tokens, wrong passwords, roles that may
not, failing operations, used tickets) and everything a person could read afterwards is
searched for them: every answer (but the one that hands a secret out), the logs of every
logger, the audit log, the operations with their progress lines, and the state database's
bytes. And `lab serve`'s own uvicorn logs, for a console ticket in a websocket URL.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from api.logs import log_config, redact
from lab.access.logins import LoginStore
from lab.access.users import UserStore
from lab.labs import keys, passwords
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore
from tests.api.conftest import PROFILES, WaitOp
from tests.reliability import record

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).parents[2]
TRAINER_PASSWORD = "Тренер-пароль-42:correct horse"


def _db_bytes(settings: Settings) -> bytes:
    found = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{settings.state_db}{suffix}")
        if path.exists():
            found += path.read_bytes()
    return found


@pytest.fixture
def secrets_made(
    settings: Settings, tokens: dict[str, str], client: TestClient, app: FastAPI
) -> dict[str, str]:
    """Every kind of secret, made the way users make them; name -> secret."""
    made = {f"token of {role}": token for role, token in tokens.items()}
    state = StateStore.open(settings)
    LoginStore(state, UserStore(state)).set_password("trainer", TRAINER_PASSWORD)
    made["trainer's password"] = TRAINER_PASSWORD
    login = client.post("/api/v1/login", json={"name": "trainer", "password": TRAINER_PASSWORD})
    assert login.status_code == 200
    made["trainer's session"] = login.json()["token"]
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    sheet = client.post("/api/v1/classes/c1/access-sheet", headers=admin)
    assert sheet.status_code == 200, sheet.text
    for entry in sheet.json()["entries"]:
        made[f"sheet password of {entry['login']}"] = entry["password"]
    ticket = client.post(
        "/api/v1/labs/c1-01/machines/m1/console-ticket", json={"kind": "serial"}, headers=admin
    )
    assert ticket.status_code == 201
    made["console ticket"] = ticket.json()["ticket"]
    plan_dir = settings.labs_dir / "c1-01"
    pair = keys.ensure_keypair(plan_dir / "keys", comment="hromada-lab:c1-01")
    made["lab private key"] = "".join(pair.private.read_text().splitlines()[1:3])
    profile = load_profile(PROFILES / "stack.yaml")
    for account, password in passwords.account_passwords(plan_dir / "keys", profile).items():
        made[f"lab password of {account}"] = password
    assert all(len(secret) >= 12 for secret in made.values()), made
    return made


def test_no_secret_in_answers_logs_audit_operations_or_the_database(
    client: TestClient,
    settings: Settings,
    tokens: dict[str, str],
    secrets_made: dict[str, str],
    wait_op: WaitOp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    trainee = {"Authorization": f"Bearer {tokens['trainee']}"}
    near = tokens["admin"][:-2] + "xx"
    answers: list[httpx.Response] = []

    def ask(method: str, url: str, **kwargs: Any) -> httpx.Response:
        answer: httpx.Response = client.request(method, url, **kwargs)
        answers.append(answer)
        return answer

    # Error paths: bad and near-miss tokens, wrong passwords, roles that may not.
    assert ask("GET", "/api/v1/labs", headers={"Authorization": f"Bearer {near}"}).is_client_error
    assert ask("GET", "/api/v1/me", headers={"Authorization": near}).is_client_error
    for password in (
        TRAINER_PASSWORD + "x",
        TRAINER_PASSWORD.upper(),
        "",
        secrets_made["token of admin"],
    ):
        assert ask(
            "POST", "/api/v1/login", json={"name": "trainer", "password": password}
        ).status_code in (401, 422)
    assert ask(
        "POST", "/api/v1/login", json={"name": secrets_made["token of admin"], "password": "x"}
    ).is_client_error
    assert ask("POST", "/api/v1/classes/c1/access-sheet", headers=trainee).status_code == 403
    assert ask("POST", "/api/v1/labs/other/reset", headers=trainee).status_code == 403
    assert (
        ask("POST", "/api/v1/labs/c1-02/machines/m1/console-ticket", headers=trainee).status_code
        == 403
    )
    # Operations, failing ones among them (the test driver has no such domains).
    ended = []
    for url in (
        "/api/v1/labs/c1-01/reset",
        "/api/v1/labs/mine/baseline",
        "/api/v1/labs/c1-01/test",
    ):
        started = ask("POST", url, headers=admin)
        assert started.status_code == 202, started.text
        ended.append(wait_op(started.headers["location"], admin)["status"])
        ask("GET", started.headers["location"] + "/events", headers=admin)
    assert "failed" in ended, ended
    # A ticket used (let in, then the console closes: no machine runs), used again, forged.
    ticket = secrets_made["console ticket"]
    url = f"/api/v1/labs/c1-01/machines/m1/console?ticket={ticket}"
    with client.websocket_connect(url) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_bytes()
    assert closed.value.code == 1011
    for again in (url, url + "0"):
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(again):
            pass
        assert refused.value.code == 1008
    # What people read: operations, audit, the user's own view, the lab, its status.
    for url in (
        "/api/v1/operations",
        "/api/v1/audit",
        "/api/v1/me",
        "/api/v1/labs/c1-01",
        "/api/v1/labs",
        "/metrics",
    ):
        assert ask("GET", url, headers=admin).status_code == 200, url

    readable = {f"answer {a.request.method} {a.request.url.path}": a.text for a in answers}
    readable["log"] = "\n".join(
        f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    readable["state database"] = _db_bytes(settings).decode("latin-1")
    leaks = [
        f"{what} in {where}"
        for what, secret in secrets_made.items()
        for where, text in readable.items()
        if secret in text
    ]
    record("input", "secrets: answers, logs, audit, operations, database", len(answers), leaks)
    assert not leaks
    assert len(caplog.records) > 0 and len(answers) > 20


def test_tokens_sessions_and_passwords_are_stored_hashed(
    settings: Settings, secrets_made: dict[str, str]
) -> None:
    stored = _db_bytes(settings)
    for what, secret in secrets_made.items():
        assert secret.encode() not in stored, what
        assert secret.encode("utf-16-le") not in stored, what
    assert b"$scrypt$" in stored or b"scrypt" in stored  # the password's hash is there


# -- `lab serve`'s own logs --------------------------------------------------------------


@pytest.fixture
def served(app: FastAPI) -> Iterator[tuple[str, io.StringIO]]:
    """The app under a real uvicorn on a loopback port, logging as `lab serve` does, with
    its log handlers writing to a buffer instead of stderr and stdout."""
    logs = io.StringIO()
    configured = log_config()
    for handler in configured["handlers"].values():
        handler["stream"] = logs
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=configured, access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}", logs
    finally:
        server.should_exit = True
        thread.join(10)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()


def test_console_tickets_never_reach_the_server_log(
    served: tuple[str, io.StringIO], tokens: dict[str, str]
) -> None:
    address, logs = served
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    url = "/api/v1/labs/c1-01/machines/m1/console-ticket"
    tickets = [
        httpx.post(f"http://{address}{url}", headers=admin, json={}).json()["ticket"]
        for _ in range(2)
    ]
    forged = "hc_forged-ticket-0123456789abcdef"
    for ticket in (*tickets, tickets[0], forged):  # good, good, used, forged
        try:
            with connect(
                f"ws://{address}/api/v1/labs/c1-01/machines/m1/console?ticket={ticket}",
                open_timeout=5,
            ) as ws:
                ws.close()
        except (InvalidStatus, OSError, TimeoutError):
            pass  # refused, or the console (no domain under the test driver) ended it
    httpx.get(f"http://{address}/healthz?ticket={forged}&token={tokens['admin']}")
    time.sleep(0.2)  # the access log line is written after the answer
    log = logs.getvalue()
    assert "WebSocket /api/v1/labs/c1-01/machines/m1/console?ticket=[redacted]" in log
    assert "/healthz?ticket=[redacted]&token=[redacted]" in log
    for secret in (*tickets, forged, tokens["admin"]):
        assert secret not in log


def test_redact_blanks_secret_parameters_only() -> None:
    assert redact("/x?ticket=hc_a-b_c&lang=uk") == "/x?ticket=[redacted]&lang=uk"
    assert redact('GET /y?a=1&Token=abc HTTP/1.1"') == 'GET /y?a=1&Token=[redacted] HTTP/1.1"'
    assert redact("/z?password=p%20q;ticket=t") == "/z?password=[redacted];ticket=[redacted]"
    assert redact("/labs/ticket-office?tickets=2") == "/labs/ticket-office?tickets=2"


# -- the CLI -----------------------------------------------------------------------------


def test_cli_shows_a_token_once_and_keeps_only_hashes(settings: Settings) -> None:
    """`lab` as users run it (its own process): the token on stdout once, nothing else."""
    env = {**os.environ, "LAB_HOME": str(settings.home), "PYTHONPATH": str(ROOT)}

    def lab(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from lab.cli import main; main()", *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert lab("user", "add", "olena", "--role", "trainer").returncode == 0
    made = lab("token", "create", "olena")
    token = made.stdout.strip()
    assert made.returncode == 0 and token.startswith("hl_")
    password = "Олена-каже:пароль-2026"
    assert lab("user", "passwd", "olena", "--password-stdin", stdin=password + "\n").returncode == 0
    others = [
        lab("user", "list"),
        lab("user", "passwd", "olena", "--password-stdin", stdin="short-7\n"),  # refused
        lab("user", "passwd", "nobody", "--password-stdin", stdin=password + "\n"),
        lab("token", "create", "nobody"),
        lab("token", "revoke", "olena"),
    ]
    assert [r.returncode for r in others] == [0, 1, 1, 1, 0]
    assert "a password has 8 to 1024 characters" in others[1].stderr
    readable = "".join(r.stdout + r.stderr for r in others) + made.stderr
    assert "Traceback" not in readable
    stored = _db_bytes(settings)
    for secret in (token, password, "short-7"):
        assert secret.encode() not in stored
        assert secret not in readable
