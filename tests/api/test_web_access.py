"""The web page's API: the page itself, password logins and sessions, a class's status
and access sheet, and console tickets with their websockets (who may, and who may not)."""

from __future__ import annotations

import json
import sqlite3
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.tickets import Tickets
from lab.access.logins import LoginStore
from lab.access.users import AssignmentKind, Role, UserStore
from lab.classes.records import ClassRecord
from lab.labs.plan import plan_lab
from lab.labs.records import LabRecord, LabStatus
from lab.profile import load_profile
from lab.settings import Settings
from lab.store.state import StateStore, now

Headers = dict[str, dict[str, str]]
CLASSROOM = Path(__file__).parents[1] / "browser" / "profiles" / "classroom.yaml"


def _logins(app: FastAPI) -> LoginStore:
    store: LoginStore = app.state.logins
    return store


def _login(client: TestClient, name: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


# -- the page ---------------------------------------------------------------------------


def test_the_page_is_served_in_ukrainian_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="uk">' in page.text
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    strings = client.get("/static/i18n.js").text
    assert "Вхід" in strings and "Log in" in strings


def test_the_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    """Every script, style and library the page uses comes from this server."""
    web = Path(__file__).parents[2] / "api" / "web"
    for path in [web / "index.html", *web.glob("*.js"), *web.glob("views/*.js")]:
        text = path.read_text()
        assert "https://" not in text and "http://" not in text, path


# -- logins -----------------------------------------------------------------------------


def test_a_password_login_gives_an_expiring_session(
    app: FastAPI, client: TestClient, headers: Headers
) -> None:
    _logins(app).set_password("trainer", "a-good-password")
    session = client.post("/api/v1/login", json={"name": "trainer", "password": "a-good-password"})
    assert session.status_code == 200
    body = session.json()
    assert body["user"]["name"] == "trainer" and body["token"].startswith("hs_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["classes"] == ["c1"]
    # Bearer tokens go on working beside sessions.
    assert client.get("/api/v1/me", headers=headers["trainer"]).status_code == 200


@pytest.mark.parametrize(
    ("name", "password"), [("trainer", "not-the-password"), ("nobody", "a-good-password")]
)
def test_a_wrong_name_or_password_is_401_and_says_no_more(
    app: FastAPI, client: TestClient, tokens: dict[str, str], name: str, password: str
) -> None:
    _logins(app).set_password("trainer", "a-good-password")
    response = client.post("/api/v1/login", json={"name": name, "password": password})
    assert response.status_code == 401
    assert response.json()["error"] == "wrong name or password"
    assert password not in response.text


def test_a_user_without_a_password_cannot_log_in(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = client.post("/api/v1/login", json={"name": "admin", "password": "anything-at-all"})
    assert response.status_code == 401


def test_an_expired_or_ended_session_is_401(
    app: FastAPI, client: TestClient, tokens: dict[str, str]
) -> None:
    logins = _logins(app)
    logins.set_password("trainee", "a-good-password")
    found = logins.login("trainee", "a-good-password", hours=-1)
    assert found is not None
    expired = {"Authorization": f"Bearer {found[0]}"}
    assert client.get("/api/v1/me", headers=expired).status_code == 401

    session = _login(client, "trainee", "a-good-password")
    assert client.post("/api/v1/logout", headers=session).status_code == 204
    assert client.get("/api/v1/me", headers=session).status_code == 401

    session = _login(client, "trainee", "a-good-password")
    logins.set_password("trainee", "a-new-password")  # a new password ends the sessions
    assert client.get("/api/v1/me", headers=session).status_code == 401


def test_passwords_are_stored_as_slow_salted_hashes(
    app: FastAPI, settings: Settings, tokens: dict[str, str]
) -> None:
    _logins(app).set_password("trainer", "a-good-password")
    _logins(app).set_password("trainee", "a-good-password")
    with sqlite3.connect(settings.state_db) as db:
        hashes = [row[0] for row in db.execute("SELECT hash FROM passwords ORDER BY user")]
        dump = "\n".join(db.iterdump())
    assert all(h.startswith("scrypt$") for h in hashes) and hashes[0] != hashes[1]
    assert "a-good-password" not in dump


# -- class status -----------------------------------------------------------------------


def test_class_status_shows_each_seat(client: TestClient, headers: Headers) -> None:
    response = client.get("/api/v1/classes/c1/status", headers=headers["trainer"])
    assert response.status_code == 200
    seats = response.json()["seats"]
    assert [s["seat"] for s in seats] == ["c1-01", "c1-02"]
    assert all(s["status"] == "running" and s["ready"] is False for s in seats)  # unverified
    assert client.get("/api/v1/classes/c1/status", headers=headers["trainee"]).status_code == 403


# -- access sheets ----------------------------------------------------------------------


@pytest.fixture
def classroom(settings: Settings, tokens: dict[str, str]) -> str:
    """Class `cr` of one seat of the classroom profile (a trainee account), whose
    machine passwords are known; its trainer is `trainer`."""
    profile = load_profile(CLASSROOM)
    plan = plan_lab(
        profile, "cr-01", settings.prefix, settings.labs_dir, IPv4Network("10.250.40.0/24")
    )
    stamp = now()
    record = LabRecord(
        name="cr-01",
        profile="classroom",
        profile_path=str(CLASSROOM),
        status=LabStatus.RUNNING,
        plan=plan,
        spec=profile,
        created_at=stamp,
        updated_at=stamp,
    )
    state = StateStore.open(settings)
    state.add_lab(record)
    state.add_class(
        ClassRecord(
            name="cr",
            profile="classroom",
            profile_path=str(CLASSROOM),
            seats=("cr-01",),
            created_at=stamp,
        )
    )
    plan.keys_dir.mkdir(parents=True)
    (plan.keys_dir / "passwords.json").write_text(json.dumps({"trainee": "machine-secret"}))
    UserStore.open(settings).assign("trainer", AssignmentKind.CLASS, "cr")
    return "cr"


def test_an_access_sheet_gives_each_seat_a_trainee_and_a_new_password(
    client: TestClient, headers: Headers, classroom: str
) -> None:
    response = client.post(f"/api/v1/classes/{classroom}/access-sheet", headers=headers["trainer"])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    sheet = response.json()
    assert sheet["class_name"] == "cr" and sheet["made_by"] == "trainer"
    [entry] = sheet["entries"]
    assert entry["seat"] == "cr-01" and entry["login"] == "cr-01"
    [machine] = entry["machines"]
    assert machine["account"] == "trainee" and machine["password"] == "machine-secret"
    assert machine["console_url"] == "http://testserver/#/console/cr-01/m1"
    assert machine["ssh_command"] == "lab ssh cr-01 m1" and machine["graphics"] is True

    # The new trainee logs in with it, and sees only their seat.
    session = _login(client, "cr-01", entry["password"])
    me = client.get("/api/v1/me", headers=session).json()
    assert me == {"name": "cr-01", "role": "trainee", "labs": ["cr-01"], "classes": []}
    assert client.get("/api/v1/labs", headers=session).json()[0]["name"] == "cr-01"

    # Printing it again changes the password: the old one no longer works.
    again = client.post(f"/api/v1/classes/{classroom}/access-sheet", headers=headers["admin"])
    assert again.json()["entries"][0]["password"] != entry["password"]
    old = client.post("/api/v1/login", json={"name": "cr-01", "password": entry["password"]})
    assert old.status_code == 401
    assert client.get("/api/v1/me", headers=session).status_code == 401  # its session ended


def test_a_seat_with_a_trainee_keeps_them(
    client: TestClient, headers: Headers, tokens: dict[str, str]
) -> None:
    sheet = client.post("/api/v1/classes/c1/access-sheet", headers=headers["trainer"]).json()
    assert [(e["seat"], e["login"]) for e in sheet["entries"]] == [
        ("c1-01", "trainee"),  # assigned by the fixture
        ("c1-02", "c1-02"),  # made now
    ]
    assert sheet["entries"][0]["machines"][0]["account"] == ""  # tiny: no trainee account


@pytest.mark.parametrize(
    ("role", "status"),
    [("trainer", 200), ("engineer", 200), ("admin", 200), ("tester", 403), ("trainee", 403)],
)
def test_who_may_make_an_access_sheet(
    client: TestClient, headers: Headers, role: str, status: int
) -> None:
    response = client.post("/api/v1/classes/c1/access-sheet", headers=headers[role])
    assert response.status_code == status, response.text


def test_a_trainer_gets_no_sheet_of_another_class(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    StateStore.open(settings).add_class(
        ClassRecord(name="c9", profile="tiny", profile_path="x", seats=("other",), created_at=now())
    )
    response = client.post("/api/v1/classes/c9/access-sheet", headers=headers["trainer"])
    assert response.status_code == 403
    assert set(response.json()) == {"error", "hint", "problems"}


def test_a_seat_named_like_a_staff_user_is_a_conflict(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    UserStore.open(settings).add("c1-02", Role.ENGINEER)
    response = client.post("/api/v1/classes/c1/access-sheet", headers=headers["admin"])
    assert response.status_code == 409
    assert "c1-02" in response.json()["error"] and response.json()["hint"]


def test_the_sheet_as_a_pdf(client: TestClient, headers: Headers, classroom: str) -> None:
    made = client.post(
        f"/api/v1/classes/{classroom}/access-sheet",
        params={"format": "pdf", "lang": "en"},
        headers=headers["trainer"],
    )
    assert made.status_code == 200
    assert made.headers["content-type"] == "application/pdf"
    assert made.content.startswith(b"%PDF") and len(made.content) > 5000

    sheet = client.post(f"/api/v1/classes/{classroom}/access-sheet", headers=headers["trainer"])
    rendered = client.post(
        f"/api/v1/classes/{classroom}/access-sheet/pdf",
        json=sheet.json(),
        headers=headers["trainer"],
    )
    assert rendered.status_code == 200 and rendered.content.startswith(b"%PDF")
    # Rendering changes nothing: the sheet's password still logs in.
    _login(client, "cr-01", sheet.json()["entries"][0]["password"])
    # A sheet of one class is not rendered under another's name.
    wrong = client.post(
        "/api/v1/classes/c1/access-sheet/pdf", json=sheet.json(), headers=headers["trainer"]
    )
    assert wrong.status_code == 422
    denied = client.post(
        f"/api/v1/classes/{classroom}/access-sheet/pdf",
        json=sheet.json(),
        headers=headers["trainee"],
    )
    assert denied.status_code == 403


# -- console tickets --------------------------------------------------------------------

TICKET = "/api/v1/labs/{lab}/machines/{machine}/console-ticket"


@pytest.mark.parametrize(
    ("role", "lab", "status"),
    [
        ("trainee", "c1-01", 201),  # their seat
        ("trainee", "c1-02", 403),  # another seat
        ("trainee", "other", 403),
        ("trainer", "c1-02", 201),  # a seat of their class
        ("trainer", "other", 403),
        ("tester", "mine", 201),
        ("tester", "other", 403),
        ("engineer", "other", 201),
    ],
)
def test_who_may_have_a_console_ticket(
    client: TestClient, headers: Headers, role: str, lab: str, status: int
) -> None:
    response = client.post(TICKET.format(lab=lab, machine="m1"), headers=headers[role])
    assert response.status_code == status, response.text
    if status == 201:
        ticket = response.json()
        assert ticket["ticket"].startswith("hc_") and ticket["kind"] == "serial"
        assert ticket["url"] == f"/api/v1/labs/{lab}/machines/m1/console"
        assert 0 < ticket["seconds"] <= 60


def test_a_ticket_for_an_unknown_machine_or_a_missing_display_is_404(
    client: TestClient, headers: Headers
) -> None:
    trainee = headers["trainee"]
    assert client.post(TICKET.format(lab="c1-01", machine="m9"), headers=trainee).status_code == 404
    vnc = client.post(
        TICKET.format(lab="c1-01", machine="m1"), json={"kind": "vnc"}, headers=trainee
    )
    assert vnc.status_code == 404  # tiny's machine has no display
    assert "graphical" in vnc.json()["error"]


def _ticket(client: TestClient, headers: dict[str, str], lab: str = "c1-01") -> str:
    response = client.post(TICKET.format(lab=lab, machine="m1"), headers=headers)
    assert response.status_code == 201
    ticket: str = response.json()["ticket"]
    return ticket


def _refused(client: TestClient, url: str) -> int:
    """The close code of a websocket the server refuses before accepting it."""
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url):
        pass
    return refused.value.code


CONSOLE = "/api/v1/labs/{lab}/machines/m1/console"


def test_a_console_websocket_needs_a_valid_ticket(client: TestClient, headers: Headers) -> None:
    assert _refused(client, CONSOLE.format(lab="c1-01")) == 1008
    assert _refused(client, CONSOLE.format(lab="c1-01") + "?ticket=hc_forged") == 1008


def test_a_ticket_opens_only_its_own_console(client: TestClient, headers: Headers) -> None:
    ticket = _ticket(client, headers["trainee"])
    other = CONSOLE.format(lab="c1-02") + f"?ticket={ticket}"
    assert _refused(client, other) == 1008
    # ...and it was used up by that try.
    assert _refused(client, CONSOLE.format(lab="c1-01") + f"?ticket={ticket}") == 1008
    vnc = f"/api/v1/labs/c1-01/machines/m1/vnc?ticket={_ticket(client, headers['trainee'])}"
    assert _refused(client, vnc) == 1008  # a serial ticket is not a display's


def test_a_ticket_works_once(client: TestClient, headers: Headers) -> None:
    url = CONSOLE.format(lab="c1-01") + f"?ticket={_ticket(client, headers['trainee'])}"
    # Let in; libvirt's test driver has no such machine running, so the console itself
    # then closes with the reason.
    with client.websocket_connect(url) as ws, pytest.raises(WebSocketDisconnect) as ended:
        ws.receive_bytes()
    assert ended.value.code == 1011 and "console is silent" in ended.value.reason
    assert _refused(client, url) == 1008  # the second time


def test_an_expired_ticket_is_refused(app: FastAPI, client: TestClient, headers: Headers) -> None:
    clock = [1000.0]
    app.state.tickets = Tickets(ttl=30, clock=lambda: clock[0])
    url = CONSOLE.format(lab="c1-01") + f"?ticket={_ticket(client, headers['trainee'])}"
    clock[0] += 31
    assert _refused(client, url) == 1008


def test_a_ticket_is_refused_once_the_seat_is_no_longer_theirs(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    url = CONSOLE.format(lab="c1-01") + f"?ticket={_ticket(client, headers['trainee'])}"
    UserStore.open(settings).unassign_target(AssignmentKind.LAB, "c1-01")
    assert _refused(client, url) == 1008


def test_console_attempts_are_in_the_audit_log(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    url = CONSOLE.format(lab="c1-01") + f"?ticket={_ticket(client, headers['trainee'])}"
    UserStore.open(settings).unassign_target(AssignmentKind.LAB, "c1-01")
    _refused(client, url)  # a real ticket, of a user who may no longer open it
    _refused(client, CONSOLE.format(lab="c1-02") + "?ticket=hc_forged")  # only counted
    entries = client.get("/api/v1/audit?target=lab/c1-01", headers=headers["admin"]).json()
    assert entries[0]["action"] == "WEBSOCKET /api/v1/labs/c1-01/machines/m1/console"
    assert entries[0]["user"] == "trainee" and entries[0]["result"] == "403"
    assert client.get("/api/v1/audit?target=lab/c1-02", headers=headers["admin"]).json() == []
    everything = client.get("/api/v1/audit", headers=headers["admin"]).json()
    assert "hc_" not in json.dumps(everything)
