"""The engineer's profiles and lab page, in a real headless Chromium against the app: a
profile of two networks previewed with every machine and address in its topology (no
boot), a one-machine profile started as a lab on the page and followed until it is
ready, its test results, a baseline captured, the lab stopped and started again, and
taken down after its name is typed; a trainee sees no profiles. One small lab boots in
this module (twice). Every new view is checked with axe-core and saved at a desktop's and
a phone's width."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from lab.access.logins import LoginStore
from lab.access.users import Role, UserStore
from lab.labs import lifecycle
from lab.settings import Settings
from lab.store.state import StateStore
from tests.browser.a11y import assert_accessible
from tests.browser.serving import log_in, open_page, serve
from tests.homes import fresh_home

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

PREFIX = os.environ.get("LAB_TEST_PREFIX", "hlt-")
PROFILES = Path(__file__).parent / "profiles" / "engineer"
SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
ENGINEER = ("taras", "engineer-pass-1")
TRAINEE = ("petro", "violet-harbour-42")
LAB = "eng1"


@pytest.fixture(scope="module")
def settings() -> Iterator[Settings]:
    with fresh_home("engineer") as home:
        made = Settings(
            home=home, prefix=PREFIX, accel="auto", boot_timeout=900, profiles_dir=PROFILES
        )
        state = StateStore.open(made)
        users = UserStore(state)
        logins = LoginStore(state, users)
        users.add(ENGINEER[0], Role.ENGINEER)
        users.add(TRAINEE[0], Role.TRAINEE)
        logins.set_password(*ENGINEER)
        logins.set_password(*TRAINEE)
        yield made
        for lab in lifecycle.list_labs(made):  # what a failed test left behind
            lifecycle.down(made, lab.name)


@pytest.fixture(scope="module")
def home(settings: Settings) -> Iterator[str]:
    with serve(create_app(settings), lifespan="on") as url:
        yield url


@pytest.fixture
def page(browser: Browser, home: str) -> Iterator[Page]:
    with open_page(browser, home, viewport={"width": 1280, "height": 800}) as opened:
        yield opened


def shots(page: Page, name: str) -> None:
    """`NAME.png` at 1280x800 and `NAME-phone.png` at 390x844, the whole page each."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_two_network_profile_previewed_with_every_address(page: Page) -> None:
    log_in(page, *ENGINEER)
    page.click("nav a[href='#/profiles']")
    expect(page.locator("tr[data-profile='two-nets']")).to_contain_text("чинний")
    assert_accessible(page, "profiles")
    shots(page, "profiles")
    page.click("tr[data-profile='two-nets'] a")
    picture = page.locator("svg#topology")
    expect(picture).to_be_visible()
    expect(picture.locator("line.bus")).to_have_count(2)
    for machine in ("gw", "pc", "docs"):
        expect(picture.locator(f"g[data-machine='{machine}']")).to_have_count(1)
    said = picture.locator("desc").text_content() or ""
    for words in ("gw", "pc", "docs", "10.81.0.2", "10.81.1.2", "10.81.1.20", "10.81.0.10"):
        assert words in said, (words, said)
        expect(picture).to_contain_text(words)
    # The appliance is said in words, in the picture and the table.
    expect(picture.locator("g[data-machine='docs']")).to_contain_text("готова машина")
    expect(page.locator("tr[data-machine='docs']")).to_contain_text("готова машина")
    expect(page.locator("tr[data-machine='gw']")).to_contain_text("file_server, web_portal")
    expect(page.locator(".profile-preview")).to_contain_text("clerk")
    expect(page.locator(".profile-preview")).to_contain_text("office")
    assert "password" not in (page.locator(".profile-preview").text_content() or "")
    assert_accessible(page, "profile preview")
    shots(page, "profile-preview")
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "profile-preview-print.png"), full_page=True)
    page.emulate_media(media="screen")
    page.click("#lang")
    expect(picture.locator("g[data-machine='docs']")).to_contain_text("appliance")


def test_a_trainee_sees_no_profiles(page: Page) -> None:
    log_in(page, *TRAINEE)
    expect(page.locator("nav a[href='#/profiles']")).to_have_count(0)
    page.goto("#/profiles")
    expect(page.locator("#app .error")).to_be_visible()


def test_an_engineer_starts_checks_baselines_stops_starts_and_takes_down_a_lab(
    page: Page, settings: Settings
) -> None:
    log_in(page, *ENGINEER, where="/#/profiles/classroom")
    expect(page.locator("svg#topology g[data-machine='m1']")).to_have_count(1)
    page.fill("#start-lab-name", LAB)
    page.click("#start-lab-form button[type=submit]")
    expect(page.locator("#progress .op-status").first).to_contain_text(f"lab/{LAB}")
    expect(page.locator("#new-lab-link")).to_be_visible(timeout=1_500_000)
    page.click("#new-lab-link")
    expect(page.locator(".lab-page .lab-status")).to_have_attribute("data-status", "running")
    expect(page.locator("svg#lab-topology g[data-machine='m1']")).to_have_count(1)
    assert_accessible(page, "lab page")
    page.focus("#lab-test")
    page.keyboard.press("Enter")  # by keyboard
    expect(page.locator("#lab-baseline")).to_be_disabled()  # one operation at a time
    # The results shown are the new run's once its operation has ended.
    ended = page.locator("#progress .op-status.succeeded, #progress .op-status.failed")
    expect(ended).to_have_count(1, timeout=600_000)
    expect(page.locator("#progress .op-status.succeeded")).to_have_count(1)
    expect(page.locator("#test-results tr[data-test='alive']")).to_have_attribute(
        "data-outcome", "passed", timeout=600_000
    )
    with page.expect_download() as junit:
        page.click("#junit-download")
    assert "testsuite" in Path(junit.value.path()).read_text()
    shots(page, "lab-page")
    expect(page.locator("#baseline-at")).to_have_text("ще ні")
    page.click("#lab-baseline")
    expect(ended).to_have_count(2, timeout=600_000)
    baseline = page.locator("#progress .op-status").first  # the newest comes first
    assert "failed" not in (baseline.get_attribute("class") or ""), baseline.text_content()
    # The page offers its actions again once it shows the operation's outcome.
    expect(page.locator("#lab-baseline")).to_be_enabled(timeout=120_000)
    expect(page.locator("#lab-message")).to_be_empty()
    expect(page.locator("#baseline-at")).not_to_have_text("ще ні")
    # Stopped, then started again: its machine shuts down, then boots from its own disk
    # and answers; the page shows each state once the operation has ended.
    status, m1 = page.locator(".lab-page .lab-status"), page.locator("tr[data-machine='m1']")
    steps = (("stop", 3, "stopped", "shutoff"), ("start", 4, "running", "running"))
    for button, count, state, power in steps:
        page.click(f"#lab-{button}")
        expect(ended).to_have_count(count, timeout=900_000)
        newest = page.locator("#progress .op-status").first
        assert "succeeded" in (newest.get_attribute("class") or ""), newest.text_content()
        expect(status).to_have_attribute("data-status", state, timeout=120_000)
        expect(m1).to_have_attribute("data-state", power)
    assert lifecycle.status(settings, LAB).machines[0].reachable
    page.click("#lab-take-down")
    dialog = page.locator("#take-down-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#take-down-dialog-ok")).to_be_disabled()
    assert_accessible(page, "take down dialog")
    shots(page, "lab-take-down")
    page.fill("#take-down-dialog-typed", LAB)
    page.click("#take-down-dialog-ok")
    expect(page.locator("#lab-gone")).to_be_visible(timeout=600_000)
    assert LAB not in {lab.name for lab in lifecycle.list_labs(settings)}
