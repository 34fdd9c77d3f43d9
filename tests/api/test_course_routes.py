"""The course routes against a class running a course, with the checks and checkpoints
faked (tests/course_fakes.py): what a trainee and a trainer see and do."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.routes import courses as course_routes
from lab.settings import Settings
from lab.store.state import StateStore
from tests.api.conftest import WaitOp
from tests.course_fakes import Fakes, course_settings, install_fakes

Headers = dict[str, dict[str, str]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return course_settings(tmp_path)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, settings: Settings, headers: Headers) -> Fakes:
    """Class c1 (seats c1-01, c1-02; the trainee has c1-01) runs the course `share`."""
    state = StateStore.open(settings)
    c1 = state.get_class("c1")
    state.delete_class("c1")
    state.add_class(c1.model_copy(update={"course": "share"}))
    return install_fakes(monkeypatch)


def test_the_catalogue(client: TestClient, headers: Headers) -> None:
    listed = client.get("/api/v1/courses", headers=headers["trainer"]).json()
    assert [c["name"] for c in listed] == ["share"]
    one = client.get("/api/v1/courses/share", headers=headers["trainer"]).json()
    assert one["profile"] == "tiny" and one["points"] == 6
    assert one["tasks"][0] == {
        "id": "make-folder",
        "title": {"uk": "Створіть теку", "en": "Make the folder"},
        "machine": "m1",
        "points": 2,
        "hints": 2,
        "checkpoint": None,
    }
    assert client.get("/api/v1/courses/nothing", headers=headers["admin"]).status_code == 404


def test_a_trainee_works_through_the_course(
    client: TestClient, headers: Headers, fakes: Fakes
) -> None:
    me = headers["trainee"]
    seat = client.get("/api/v1/labs/c1-01/course", headers=me).json()
    assert (seat["class_name"], seat["course"], seat["current"]) == ("c1", "share", "make-folder")
    assert seat["points"] == 6 and seat["earned"] == 0
    task = seat["task"]
    assert task["number"] == 1 and task["hints"] == [] and task["hints_left"] == 2
    assert "<h1>Тека</h1>" in task["instructions_html"]["uk"]
    assert task["instructions_html"]["en"] == task["instructions_html"]["uk"]  # no English
    assert seat["tasks"][0]["state"] == "not-started" and seat["tasks"][0]["hints_total"] == 2

    hint = client.post("/api/v1/labs/c1-01/course/hint", headers=me).json()
    assert hint == {
        "task": "make-folder",
        "number": 1,
        "hint": {"uk": "Команда mkdir", "en": "The mkdir command"},
        "hints_left": 1,
    }
    second = client.post("/api/v1/labs/c1-01/course/hint", headers=me).json()
    assert second["hint"]["en"] == "Спробуйте mkdir -p"  # no English: the Ukrainian
    none = client.post("/api/v1/labs/c1-01/course/hint", headers=me)
    assert none.status_code == 409 and "підказок більше немає" in none.json()["error"]

    fakes.passes = False
    failed = client.post("/api/v1/labs/c1-01/course/check", headers=me).json()
    assert failed["ok"] is False and failed["advanced_to"] is None
    assert failed["checks"] == [
        {
            "kind": "file",
            "machine": "m1",
            "ok": False,
            "message": {"uk": "теки немає", "en": "missing"},
        }
    ]
    fakes.passes = True
    passed = client.post("/api/v1/labs/c1-01/course/check", headers=me).json()
    assert passed["ok"] and passed["advanced_to"] == "own-folder" and passed["note"] == ""
    assert "checkpoint c1-01 task-02" in fakes.calls

    seat = client.get("/api/v1/labs/c1-01/course", headers=me).json()
    assert seat["current"] == "own-folder" and seat["earned"] == 2
    assert seat["task"]["number"] == 2 and seat["task"]["hints_left"] == 0
    first = seat["tasks"][0]
    assert first["state"] == "done" and first["attempts"] == 2 and first["hints_taken"] == 2
    assert first["last"]["ok"] is True and first["passed_at"]


def test_restart_is_an_operation(
    client: TestClient, headers: Headers, fakes: Fakes, wait_op: WaitOp
) -> None:
    fakes.saved.add("own-start")
    client.post("/api/v1/labs/c1-01/course/check", headers=headers["trainee"])
    answer = client.post("/api/v1/labs/c1-01/course/restart", headers=headers["trainee"])
    assert answer.status_code == 202
    assert answer.json()["kind"] == "task-restart" and answer.json()["target"] == "lab/c1-01"
    op = wait_op(answer.json()["url"], headers["trainee"])
    assert op["status"] == "succeeded", op
    assert fakes.reset_to == ["own-start"] and op["result"]["to"] == "own-start"
    # Back to the first task, which the seat has passed: from the baseline.
    back = client.post(
        "/api/v1/labs/c1-01/course/restart",
        json={"task": "make-folder"},
        headers=headers["trainee"],
    )
    assert wait_op(back.json()["url"], headers["trainee"])["status"] == "succeeded"
    assert fakes.reset_to == ["own-start", None]
    seat = client.get("/api/v1/labs/c1-01/course", headers=headers["trainee"]).json()
    assert seat["current"] == "make-folder" and seat["tasks"][0]["state"] == "done"
    other = client.post("/api/v1/labs/mine/course/restart", headers=headers["tester"])
    assert other.status_code == 404


def test_the_board_and_results(client: TestClient, headers: Headers, fakes: Fakes) -> None:
    client.post("/api/v1/labs/c1-01/course/check", headers=headers["trainee"])
    board = client.get("/api/v1/classes/c1/board", headers=headers["trainer"]).json()
    assert board["class_name"] == "c1" and board["course"] == "share"
    assert [t["id"] for t in board["tasks"]] == ["make-folder", "own-folder", "last"]
    one, two = board["seats"]
    assert one["seat"] == "c1-01" and one["trainees"] == ["trainee"]
    assert one["current"] == "own-folder" and one["earned"] == 2
    assert one["tasks"][0]["state"] == "done" and one["tasks"][0]["first_at"]
    assert two["current"] == "make-folder" and two["task_started_at"] is None

    got = client.get("/api/v1/classes/c1/results.csv", headers=headers["trainer"])
    assert got.headers["content-type"].startswith("text/csv")
    text = got.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:3] == ["Клас", "Курс", "Робоче місце"] and len(rows) == 7
    for lang in ("uk", "en"):
        pdf = client.get(f"/api/v1/classes/c1/results.pdf?lang={lang}", headers=headers["trainer"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/api/v1/classes/c1/board", headers=headers["trainee"]).status_code == 403


def test_the_board_stream_sends_the_board_at_once_and_on_change(
    client: TestClient, headers: Headers, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(course_routes, "POLL", 0.05)
    monkeypatch.setattr(course_routes, "STREAM_SECONDS", 1.0)
    boards = []
    with client.stream(
        "GET", "/api/v1/classes/c1/board/events", headers=headers["trainer"]
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and line != "data: {}":
                boards.append(json.loads(line.removeprefix("data: ")))
                if len(boards) == 1:  # a change while the stream is open
                    client.post("/api/v1/labs/c1-01/course/check", headers=headers["trainee"])
    assert boards[0]["seats"][0]["earned"] == 0
    assert boards[-1]["seats"][0]["earned"] == 2


def test_a_class_is_created_with_a_course_of_its_profile(
    client: TestClient, headers: Headers, settings: Settings
) -> None:
    other = settings.courses_dir / "paired.yaml"
    other.write_text(
        (settings.courses_dir / "share.yaml")
        .read_text()
        .replace("profile: tiny", "profile: pair")
        .replace("machine: m1", "machine: a"),  # pair's first machine
        encoding="utf-8",
    )
    body = {"profile": "tiny", "name": "c9", "seats": 1}
    wrong = client.post(
        "/api/v1/classes", json={**body, "course": "paired"}, headers=headers["admin"]
    )
    assert wrong.status_code == 422 and "'pair'" in wrong.json()["error"]
    missing = client.post(
        "/api/v1/classes", json={**body, "course": "nothing"}, headers=headers["admin"]
    )
    assert missing.status_code == 404
    assert client.get("/api/v1/classes/c1", headers=headers["admin"]).json()["course"] is None
