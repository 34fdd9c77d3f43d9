"""The templates on the labs page, in a real headless Chromium against the app with the
template use cases faked (tests/template_fakes.py; no guests): an engineer makes a
template of a verified lab, clones a lab from one and follows it, is told why a template
in use cannot be deleted, deletes one that is not; a tester sees the templates and may
clone, not make or delete. Every view is saved as a screenshot."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from lab.access.logins import LoginStore
from lab.access.users import AssignmentKind, Role, User, UserStore
from lab.base import Progress, quiet
from lab.labs.records import LabRecord, VerificationSummary
from lab.settings import Settings
from lab.store.state import StateStore, now
from lab.templates import clones
from tests.api.conftest import PROFILES, _make_lab
from tests.browser.serving import log_in, open_page, serve
from tests.template_fakes import TemplateFakes, install_template_fakes

Shot = Callable[[Page, str], Path]
ENGINEER = ("taras", "engineer-pass-1")
TESTER = ("ivan", "tester-pass-22")

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TemplateFakes:
    settings = Settings(
        home=tmp_path / "home", libvirt_uri="test:///default", profiles_dir=PROFILES, prefix="hlt-"
    )
    fakes = install_template_fakes(monkeypatch, settings)
    state = StateStore.open(settings)
    demo = _make_lab(settings, "demo", 1)
    verified = VerificationSummary(passed=True, at=now(), total=1)
    state.update_lab(demo.model_copy(update={"verification": verified}))
    _make_lab(settings, "other", 2)
    users, logins = UserStore(state), LoginStore(state, UserStore(state))
    users.add(ENGINEER[0], Role.ENGINEER)
    users.add(TESTER[0], Role.TESTER)
    users.assign(TESTER[0], AssignmentKind.LAB, "other")
    logins.set_password(*ENGINEER)
    logins.set_password(*TESTER)

    def clone(
        s: Settings,
        template: str,
        name: str,
        progress: Progress = quiet,
        *,
        owner: User | None = None,
        host: str = "local",
    ) -> LabRecord:
        time.sleep(0.5)  # a clone takes a moment: the page follows it
        made = fakes.clone(s, template, name, progress, owner=owner, host=host)
        state.add_lab(made)
        if made.owner:  # as lab.access.ownership does: the tester's lab is theirs
            users.assign(made.owner, AssignmentKind.LAB, name)
        return made

    monkeypatch.setattr(clones, "clone", clone)
    return fakes


@pytest.fixture
def served(fakes: TemplateFakes) -> Iterator[str]:
    with serve(create_app(fakes.settings), lifespan="on") as url:
        yield url


@pytest.fixture
def page(browser: Browser, served: str) -> Iterator[Page]:
    with open_page(browser, served) as opened:
        yield opened


def answer_next_dialog(page: Page, text: str | None = None) -> None:
    page.once("dialog", lambda dialog: dialog.accept(text) if text else dialog.accept())


def test_an_engineer_makes_clones_and_deletes_templates(
    page: Page, shot: Shot, fakes: TemplateFakes
) -> None:
    log_in(page, *ENGINEER)
    templates = page.locator("#templates")
    expect(templates.locator("h2")).to_have_text("Шаблони")
    expect(templates.locator("tr[data-template]")).to_have_count(2)
    expect(templates.locator("tr[data-template='t1']")).to_contain_text("c1-01, c1-02")
    expect(templates.locator("tr[data-template='t1']")).to_contain_text("1,5 GiB")
    # Only a verified lab may be made a template of.
    expect(page.locator("tr[data-lab='demo'] .template-make")).to_have_count(1)
    expect(page.locator("tr[data-lab='other'] .template-make")).to_have_count(0)
    shot(page, "templates-engineer")

    answer_next_dialog(page, "demo-tpl")
    page.click("tr[data-lab='demo'] .template-make")
    expect(page.locator("#progress .op-status.succeeded")).to_contain_text("template")
    expect(templates.locator("tr[data-template='demo-tpl']")).to_have_count(1)
    assert ("create", ("demo", "demo-tpl")) in fakes.asked

    answer_next_dialog(page, "demo2")
    page.click("tr[data-template='t1'] .template-clone")
    expect(page.locator("#progress .op-status").first).to_contain_text("lab/demo2")
    expect(page.locator("#progress .op-status.succeeded")).to_have_count(2)
    expect(page.locator("tr[data-lab='demo2']")).to_contain_text("t1")
    shot(page, "templates-cloned")

    answer_next_dialog(page)  # "delete template t1?": yes; it is in use
    page.click("tr[data-template='t1'] .template-delete")
    expect(page.locator("#labs-message .error")).to_contain_text("c1-01")
    expect(page.locator("#labs-message .error .hint")).to_contain_text("delete those labs first")
    shot(page, "templates-in-use")
    answer_next_dialog(page)
    page.click("tr[data-template='t2'] .template-delete")
    expect(page.locator("#labs-message")).to_contain_text("Шаблон t2 видалено.")
    expect(templates.locator("tr[data-template='t2']")).to_have_count(0)


def test_a_tester_may_clone_but_not_make_or_delete(page: Page, fakes: TemplateFakes) -> None:
    log_in(page, *TESTER)
    expect(page.locator("#templates tr[data-template]")).to_have_count(2)
    expect(page.locator(".template-delete")).to_have_count(0)
    expect(page.locator(".template-make")).to_have_count(0)
    page.click("#lang")  # in English
    expect(page.locator("#templates h2")).to_have_text("Templates")
    answer_next_dialog(page, "mine2")
    page.click("tr[data-template='t2'] .template-clone")
    expect(page.locator("#progress .op-status.succeeded")).to_contain_text("lab/mine2")
    expect(page.locator("tr[data-lab='mine2']")).to_have_count(1)
    assert ("clone", ("t2", "mine2", "ivan", "local")) in fakes.asked
