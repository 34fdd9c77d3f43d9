"""Hostile requests to every mutating endpoint: 4xx in the error envelope, no partial state.

Hypothesis draws, for each POST/DELETE of the API, path parameters, query parameters and
bodies with hostile strings in every field, wrong types, arbitrary JSON and bytes that are
not JSON at all. Every answer must be below 500; every refusal must be the project's
envelope (`error`, `hint`, `problems`) without a traceback; and a refused request must
leave the state database (but for its one audit record) and the files under LAB_HOME
exactly as they were.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.settings import Settings
from tests.api.conftest import WaitOp
from tests.hostile import BOUNDED, Trials, hostile_text
from tests.reliability import record

pytestmark = pytest.mark.reliability

KNOWN_LABS = ("c1-01", "c1-02", "mine", "other")
KNOWN_CLASSES = ("c1",)
ROLES = ("admin", "engineer", "trainer", "tester", "trainee")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {name}, {machine}, {op_id}, {schedule_id}
    fields: tuple[str, ...] = ()  # the JSON body's keys; () for no JSON body
    content_type: str = "application/json"
    query: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = (
    Endpoint("POST", "/api/v1/labs", ("profile", "name")),
    Endpoint("DELETE", "/api/v1/labs/{name}"),
    Endpoint("POST", "/api/v1/labs/{name}/power", ("action",)),
    Endpoint("POST", "/api/v1/labs/{name}/baseline"),
    Endpoint("POST", "/api/v1/labs/{name}/reset", ("cold",)),
    Endpoint("POST", "/api/v1/profiles/validate", content_type="application/yaml"),
    Endpoint("POST", "/api/v1/labs/{name}/provision"),
    Endpoint(
        "POST",
        "/api/v1/labs/{name}/apply",
        content_type="application/octet-stream",
        query=("kind", "filename", "machine"),
    ),
    Endpoint("POST", "/api/v1/labs/{name}/test"),
    Endpoint("POST", "/api/v1/classes", ("profile", "name", "seats")),
    Endpoint("DELETE", "/api/v1/classes/{name}"),
    Endpoint("POST", "/api/v1/classes/{name}/reset", ("cold",)),
    Endpoint("POST", "/api/v1/classes/{name}/baseline"),
    Endpoint("POST", "/api/v1/classes/{name}/schedules", ("at", "cold")),
    Endpoint("DELETE", "/api/v1/classes/{name}/schedules/{schedule_id}"),
    Endpoint("POST", "/api/v1/operations/{op_id}/cancel"),
    Endpoint("POST", "/api/v1/login", ("name", "password")),
    Endpoint("POST", "/api/v1/logout"),
    Endpoint("POST", "/api/v1/classes/{name}/access-sheet", query=("format", "lang")),
    Endpoint(
        "POST",
        "/api/v1/classes/{name}/access-sheet/pdf",
        ("class_name", "title", "made_at", "entries"),
        query=("lang",),
    ),
    Endpoint("POST", "/api/v1/labs/{name}/machines/{machine}/console-ticket", ("kind",)),
)

JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text(40)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text(10), inner, max_size=3)
    ),
    max_leaves=8,
)
KNOWN = (*KNOWN_LABS, *KNOWN_CLASSES, "m1", "1")
# A URL is at most 64 KiB to the client; a server refuses far shorter ones anyway.
HOSTILE_PARAM = st.one_of(
    st.sampled_from(KNOWN).flatmap(
        lambda n: st.sampled_from(
            (f"{n}\n", f"{n}/../other", n.upper(), f"../{n}", f"{n}\0", f" {n}", f"{n};id")
        )
    ),
    st.sampled_from(("0", "-1", "99999999999999999999", ".", "..")),
    hostile_text(60).filter(lambda s: len(s) < 2000),
)
# Names that exist, too, where a body follows (so that the body is what is hostile).
# Not for the endpoints without one: a valid request there starts a real operation
# (provisioning, tests), whose cost says nothing about bad input.
PARAM = st.one_of(st.sampled_from(KNOWN), HOSTILE_PARAM)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Endpoint, str, str, dict[str, str], bytes, str]:
    """(endpoint, role, URL path, query, body, content type)."""
    endpoint = draw(st.sampled_from(ENDPOINTS))
    role = draw(st.sampled_from(ROLES))
    path = endpoint.path
    for param in ("name", "machine", "op_id", "schedule_id"):
        if "{" + param + "}" in path:
            value = quote(_bytes(draw(PARAM if endpoint.fields else HOSTILE_PARAM)), safe="")
            path = path.replace("{" + param + "}", value)
    query = {
        key: draw(st.one_of(st.sampled_from(("pdf", "uk", "en", "deb", "x.deb", "m1")), PARAM))
        for key in endpoint.query
        if draw(st.booleans())
    }
    if endpoint.fields:
        structured = st.fixed_dictionaries(
            {},
            optional={field: st.one_of(JSONISH, PARAM) for field in endpoint.fields},
        )
        document = draw(st.one_of(structured, JSONISH))
        text = json.dumps(document, ensure_ascii=True)  # lone surrogates travel as \ud800
        body = draw(st.one_of(st.just(text.encode()), st.binary(max_size=200)))
    else:
        body = draw(st.one_of(hostile_text(200).map(_bytes), st.binary(max_size=200)))
    content_type = draw(
        st.one_of(st.just(endpoint.content_type), st.sampled_from(("text/plain", "")))
    )
    return endpoint, role, path, query, body, content_type


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")


def snapshot(home: Path, db_path: Path) -> dict[str, Any]:
    """Every table but the audit log (and the write counters its triggers keep), and every
    file under LAB_HOME but the database's own."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        data = {
            table: sorted(repr(row) for row in db.execute(f"SELECT * FROM {table}"))
            for table in tables
            if table not in ("audit", "counters", "sqlite_sequence")
        }
        audits = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    finally:
        db.close()
    files = sorted(
        (str(p.relative_to(home)), p.stat().st_size)
        for p in home.rglob("*")
        if p.is_file() and not p.name.startswith("state.db")
    )
    return {"tables": data, "files": files, "audits": audits}


TRIALS: dict[str, Trials] = {str(e): Trials() for e in ENDPOINTS}


@pytest.fixture(scope="module", autouse=True)
def _record_trials() -> Iterator[None]:
    yield
    for name, trials in TRIALS.items():
        record("input", f"API bodies: {name}", trials.count, trials.lost)


@settings(BOUNDED, max_examples=500)
@given(request=requests())
def test_hostile_requests_are_refused_cleanly_and_change_nothing(
    request: tuple[Endpoint, str, str, dict[str, str], bytes, str],
    client: TestClient,
    settings: Settings,
    headers: dict[str, dict[str, str]],
    wait_op: WaitOp,
) -> None:
    endpoint, role, path, query, body, content_type = request
    trials = TRIALS[str(endpoint)]
    trials.tick()
    before = snapshot(settings.home, settings.state_db)
    sent = {**headers[role], **({"Content-Type": content_type} if content_type else {})}
    if query:  # percent-encoded by hand: a lone surrogate goes as bytes that are not UTF-8
        path += "?" + "&".join(f"{k}={quote(_bytes(v), safe='')}" for k, v in query.items())
    answer = client.request(
        endpoint.method, path, content=body, headers=sent, follow_redirects=False
    )
    shown = f"{endpoint.method} {path} {query} {body[:80]!r} as {role}"
    assert answer.status_code < 500, f"{shown}: {answer.status_code} {answer.text[:300]}"
    assert "Traceback" not in answer.text, shown
    if answer.status_code == 202:  # accepted: let its operation end before the next try
        wait_op(answer.headers["location"], headers["admin"])
        return
    if answer.status_code < 400:
        return  # done (a login, a new access sheet, a ticket): a change that was asked for
    error = answer.json()
    assert set(error) == {"error", "hint", "problems"}, shown
    assert error["error"] and isinstance(error["problems"], list), shown
    after = snapshot(settings.home, settings.state_db)
    if answer.status_code == 409 and after["tables"].get("operations") != before["tables"].get(
        "operations"
    ):
        # A busy lab's refusal is recorded as a failed operation (README, "Busy labs").
        before["tables"].pop("operations")
        after["tables"].pop("operations")
    changed = [key for key in ("tables", "files") if before[key] != after[key]]
    if changed:
        trials.lost.append(f"{shown} -> {answer.status_code} changed {', '.join(changed)}")
    assert not changed, f"{shown} -> {answer.status_code} left partial state in {changed}"
    audited = after["audits"] - before["audits"]
    # Every request with a valid token once (a wrong password at the login once more).
    assert audited == 1 + (endpoint.path == "/api/v1/login" and answer.status_code == 401), shown
