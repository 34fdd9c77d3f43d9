"""The web page's smaller guards: every copy of the page carries its security headers,
nothing is loaded from a public CDN, websockets go to this server only, and console
tickets are capped per user."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes.web import HEADERS
from api.tickets import _MAX, Tickets

PER_USER = 16  # unused console tickets a user may hold (README, "Consoles")
SECURITY = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def test_static_files_carry_the_page_headers(client: TestClient) -> None:
    page = client.get("/")
    for path in ("/static/index.html", "/static/app.js", "/static/style.css"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        for name in SECURITY:
            assert answer.headers.get(name) == page.headers[name], (path, name)


def test_websockets_may_go_to_this_server_only() -> None:
    policy = dict(
        part.strip().split(" ", 1) for part in HEADERS["Content-Security-Policy"].split(";")
    )
    assert policy["connect-src"].split() == ["'self'"]  # not any host's ws: or wss:


def test_no_page_loads_scripts_from_a_public_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "cdn" not in answer.text.lower(), path
    assert client.get("/openapi.json").json()["paths"]  # the API's description stays
    assert "cdn" not in client.get("/").text.lower()


def test_console_tickets_are_capped_per_user(
    app: FastAPI, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    url = "/api/v1/labs/c1-01/machines/m1/console-ticket"
    made = [client.post(url, json={}, headers=headers["trainee"]) for _ in range(PER_USER + 10)]
    assert {r.status_code for r in made} == {201}
    tickets: Tickets = app.state.tickets
    held = [t for t in tickets._tickets.values() if t.user == "trainee"]
    assert len(held) == PER_USER
    newest = made[-1].json()["ticket"]
    assert tickets.redeem(newest, "c1-01", "m1", "serial") is not None
    oldest = made[0].json()["ticket"]
    assert tickets.redeem(oldest, "c1-01", "m1", "serial") is None  # replaced


def test_one_user_cannot_crowd_out_the_tickets_of_others() -> None:
    tickets = Tickets()
    theirs = tickets.issue("trainee", "c1-01", "m1", "serial")
    for _ in range(_MAX + 10):
        tickets.issue("flooder", "other", "m1", "serial")
    assert len(tickets._tickets) <= PER_USER + 1
    assert tickets.redeem(theirs, "c1-01", "m1", "serial") is not None
