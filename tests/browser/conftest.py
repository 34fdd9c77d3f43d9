"""Browser tests: the web page in a real headless Chromium (Debian's `chromium`, driven
by Playwright), against the app serving real TCG guests.

They are integration tests: `make test` runs them inside the test namespace. One class of
two seats (`wb-01`, `wb-02`) of a small profile with a trainee account and a VNC display,
running a short course (courses/first-steps.yaml), baselined once, serves every test of a
module (and is gone after it, before other integration tests run). The app runs in this
process (uvicorn in a thread on 127.0.0.1, a free port) with its own LAB_HOME under
LAB_TEST_ROOT (default /var/lib/hromada-lab-test) and libvirt prefix LAB_TEST_PREFIX
(default `hlt-`, like the other integration tests; a developer sharing a namespace picks
their own).
Screenshots of every view land in artifacts/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api.app import create_app
from lab.access.logins import LoginStore
from lab.access.users import AssignmentKind, Role, UserStore
from lab.classes import classes
from lab.labs import lifecycle
from lab.settings import Settings
from lab.store.state import StateStore
from tests.browser.a11y import assert_accessible
from tests.browser.serving import serve
from tests.homes import fresh_home

PREFIX = os.environ.get("LAB_TEST_PREFIX", "hlt-")
CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")
PROFILE = Path(__file__).parent / "profiles" / "classroom.yaml"
COURSE = "first-steps"  # courses/first-steps.yaml: the class runs it
SCREENSHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
CLASS = "wb"
TRAINER = ("olena", "trainer-pass-1")
ENGINEER = ("taras", "engineer-pass-1")


@pytest.fixture(scope="module")
def web_settings() -> Iterator[Settings]:
    with fresh_home("web") as home:
        settings = Settings(
            home=home,
            prefix=PREFIX,
            accel="auto",
            boot_timeout=900,
            profiles_dir=PROFILE.parent,
            courses_dir=Path(__file__).parent / "courses",
        )
        yield settings
        # Whatever a failed test left behind goes. Not `reconcile`: with a prefix other runs
        # may share, it would take their labs for orphans.
        for lab in lifecycle.list_labs(settings):
            lifecycle.down(settings, lab.name)


@pytest.fixture(scope="module")
def klass(web_settings: Settings) -> Iterator[tuple[str, ...]]:
    """The class, up, verified and baselined, running the course: its seats."""
    record, outcomes = classes.create(web_settings, PROFILE, CLASS, 2, course=COURSE)
    assert all(o.ok for o in outcomes), outcomes
    baselined = classes.baseline(web_settings, CLASS)
    assert all(o.ok for o in baselined), baselined
    yield record.seats
    classes.delete(web_settings, CLASS)


@pytest.fixture(scope="module")
def logins(web_settings: Settings, klass: tuple[str, ...]) -> LoginStore:
    """The trainer (of the class) and an engineer, with passwords."""
    state = StateStore.open(web_settings)
    users = UserStore(state)
    store = LoginStore(state, users)
    users.add(TRAINER[0], Role.TRAINER)
    users.assign(TRAINER[0], AssignmentKind.CLASS, CLASS)
    users.add(ENGINEER[0], Role.ENGINEER)
    store.set_password(*TRAINER)
    store.set_password(*ENGINEER)
    return store


@pytest.fixture
def trainee(logins: LoginStore, klass: tuple[str, ...]) -> tuple[str, str]:
    """The first seat's trainee, named after the seat, with a fresh password."""
    seat = klass[0]
    users = logins.users
    if seat not in {u.name for u in users.list_users()}:
        users.add(seat, Role.TRAINEE)
    users.assign(seat, AssignmentKind.LAB, seat)
    password = "violet-harbour-42"  # the password policy refuses one holding the name
    logins.set_password(seat, password)
    return seat, password


@pytest.fixture(scope="module")
def base_url(web_settings: Settings, logins: LoginStore) -> Iterator[str]:
    """The app, served by uvicorn in a thread on a free port of 127.0.0.1."""
    with serve(create_app(web_settings), lifespan="on") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (make setup does)")
    with sync_playwright() as playwright:
        # Debian's own Chromium: Playwright's browser downloads are not used here.
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def accounts() -> dict[str, tuple[str, str]]:
    """(name, password) of the trainer and the engineer; and the class's name."""
    return {"trainer": TRAINER, "engineer": ENGINEER, "class": (CLASS, "")}


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    """Save a screenshot of a page as artifacts/screenshots/NAME.png, once the page as it
    is has passed the accessibility check: every view saved is a view checked."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        assert_accessible(page, name)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
