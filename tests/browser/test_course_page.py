"""The page's course views in a real headless Chromium against a stand-in of the course
API (tests/browser/course_stub.py; no guests): a trainee works through the task panel
(a failed check, hints, a pass that moves on, starting a task again, the end), and a
trainer watches the live board, which reconnects when its stream drops and stops when
the view is left, and downloads the results. Every view is saved as a screenshot."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser import serving
from tests.browser.course_stub import OTHER, Course, stub_app
from tests.browser.serving import open_page, serve

Shot = Callable[[Page, str], Path]
PHONE = ViewportSize(width=390, height=844)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def course() -> Course:
    return Course()


@pytest.fixture
def stub(course: Course) -> Iterator[str]:
    """The stand-in, served by uvicorn in a thread on a free port of 127.0.0.1."""
    with serve(stub_app(course)) as url:
        yield url


@pytest.fixture
def page(browser: Browser, stub: str) -> Iterator[Page]:
    with open_page(browser, stub, accept_downloads=True) as opened:
        yield opened


def log_in(page: Page, name: str) -> None:
    serving.log_in(page, name, "any password")  # the stub takes any password


def test_a_trainee_works_through_the_course(page: Page, shot: Shot) -> None:
    log_in(page, "c1-01")
    panel = page.locator("#course")
    expect(panel).to_have_attribute("data-current", "share")
    expect(page.locator("#course-points")).to_have_text("Бали: 0 з 40")
    # The instructions keep their markup but nothing that runs, loads or styles.
    expect(page.locator("#task-instructions pre code")).to_contain_text("mkdir -p")
    expect(page.locator("#task-instructions h4")).to_have_text("Тека")  # under the task's h3
    assert page.evaluate("window.PWNED") is None
    hostile = "script, style, img, [onerror], a[href^='javascript']"
    expect(page.locator("#task-instructions").locator(hostile)).to_have_count(0)
    expect(page.locator("#task-instructions")).to_contain_text("a bad link")  # its words stay
    expect(page.locator("#task-instructions")).to_contain_text("a picture")
    shot(page, "course-trainee")

    page.focus("#check-task")
    page.keyboard.press("Enter")
    expect(page.locator("#check-task")).to_have_text("Перевіряю…")
    result = page.locator("#check-result")
    expect(result).to_have_attribute("data-ok", "false")
    expect(result.locator("li")).to_have_count(2)
    expect(result.locator("li[data-ok='false']")).to_contain_text("✗ smbd не працює")
    expect(page.locator("#check-task")).to_be_focused()  # focus stays for the next try
    task = page.locator("#course-tasks li[data-task='share']")
    expect(task).to_have_attribute("data-state", "failing")
    expect(task).to_contain_text("спроб: 1")

    page.click("#hint-button")
    expect(page.locator("#hints li")).to_have_text(["Подивіться на mkdir -p"])
    expect(page.locator("#hint-button")).to_have_text("Підказка (ще 1)")
    page.click("#hint-button")
    expect(page.locator("#hint-button")).to_have_attribute("aria-disabled", "true")
    page.click("#hint-button", force=True)  # none left: nothing happens
    expect(page.locator("#hints li")).to_have_count(2)
    shot(page, "course-trainee-failed")

    page.click("#check-task")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text("Далі: Користувач")
    expect(panel).to_have_attribute("data-current", "user")
    expect(page.locator("#course-tasks li[data-task='share']")).to_have_attribute(
        "data-state", "done"
    )
    expect(page.locator("#course-points")).to_have_text("Бали: 10 з 40")
    expect(page.locator("#hints li")).to_have_count(0)

    page.click("#restart-task")  # asks first
    expect(page.locator("#restart-confirm")).to_be_focused()
    page.click("#restart-cancel")
    expect(page.locator("#restart-task")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # so does Escape
    expect(page.locator("#restart-box")).to_be_hidden()
    expect(page.locator("#restart-task")).to_be_focused()
    page.click("#restart-task")
    page.click("#restart-confirm")
    expect(page.locator("#progress .op-status.succeeded")).to_have_count(1)
    expect(panel.locator(".ok")).to_contain_text("почато спочатку")

    page.click("#lang")  # English, with the Ukrainian where the course has no English
    expect(page.locator("#check-task")).to_have_text("Check")
    expect(page.locator("#task-title")).to_have_text("Task 2. Користувач")
    link = page.locator("#task-instructions a[href='https://example.org/']")
    expect(link).to_have_attribute("target", "_blank")  # the page stays open
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    page.set_viewport_size(PHONE)
    shot(page, "course-trainee-phone-en")
    page.click("#lang")

    for attempt in range(4):  # the last two tasks: each fails once, then passes
        page.click("#check-task")
        if attempt < 3:
            expect(page.locator("#check-task")).to_have_text("Перевірити")
    expect(page.locator("#course-done")).to_contain_text("40 з 40")
    expect(page.locator("#check-task")).to_have_count(0)
    shot(page, "course-trainee-done")


def test_a_trainer_watches_the_live_board(page: Page, shot: Shot, course: Course) -> None:
    log_in(page, "trainer1")
    page.click("a[href='#/classes/c1']")
    board = page.locator("#board")
    expect(board).to_have_attribute("data-course", "intro")
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live")
    row = board.locator(f"tr[data-board-seat='{OTHER}']")
    cell = row.locator("td[data-task='share']")
    expect(cell).to_have_attribute("data-current", "true")
    expect(cell).to_contain_text("поточне")
    expect(row.locator(".on-task")).to_contain_text("3:")  # three minutes on the task
    # Live: the cell changes without a reload, in words as well as colour.
    expect(cell).to_have_attribute("data-state", "failing")
    expect(cell).to_contain_text("✗ не пройдено")
    expect(cell).to_have_attribute("data-state", "done")
    expect(cell).to_contain_text("✓ виконано")
    shot(page, "course-board")
    # The stream drops; the page says so and opens it again.
    expect(page.locator("#board-live")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live", timeout=10_000)
    assert course.streams >= 2

    with page.expect_download() as csv:
        page.click("#results-csv")
    assert csv.value.suggested_filename == "results-c1.csv"
    assert Path(csv.value.path()).read_text().startswith("seat,")
    with page.expect_download() as pdf:
        page.click("#results-pdf")
    assert pdf.value.suggested_filename == "results-c1.pdf"
    assert Path(pdf.value.path()).read_bytes() == b"%PDF-1.4 uk"

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.restart-task").click()
    expect(page.locator("#progress .op-status.succeeded")).to_have_count(1)
    page.set_viewport_size(PHONE)
    wrap = page.locator(".board-wrap")
    assert wrap.evaluate("box => box.scrollWidth > box.clientWidth")  # scrolls in its box
    shot(page, "course-board-phone")

    page.click("a[href='#/classes']")  # leaving the view ends the stream
    expect(page.locator("h1")).to_have_text("Мої класи")
    opened = course.streams
    page.wait_for_timeout(3_000)
    assert course.streams == opened
