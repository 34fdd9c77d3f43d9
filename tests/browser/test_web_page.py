"""The web page in a real headless Chromium against real guests: a trainer resets a seat
and sees it ready; the access sheet prints and downloads; a trainee logs in on the
serial console and runs a command; a trainee cannot open another seat's console, by the
page or by URL; the engineer's views; the class's course: a trainee checks a task and sees
what the check found, the trainer's board follows a seat live, the results download. Every
view is saved as a screenshot at a desktop's and a phone's width, checked for accessibility
(axe-core) and for English left on the Ukrainian page. A trainer makes a class of one seat
on the page, sees it come up ready and deletes it; an engineer removes an unused image."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from lab.courses import runs
from lab.images import ImageStore
from lab.labs import guest
from lab.labs.lifecycle import get_lab, guest_address
from lab.labs.passwords import known_passwords
from lab.settings import Settings
from tests.browser.a11y import assert_accessible
from tests.browser.serving import log_in, open_page
from tests.browser.translations import assert_no_english

Shot = Callable[[Page, str], Path]
Accounts = dict[str, tuple[str, str]]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

SLOW = 240_000  # ms: a reset under TCG, verified, with room for a busy host
# ms: the first page a fresh browser loads (its scripts, styles and fonts) while the
# other test stream's guests keep both cores busy took more than playwright's 5 s.
FIRST_LOAD = 60_000
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
BOOT = 900_000  # ms: a new seat brought up, provisioned and verified under TCG


def look(page: Page, shot: Shot, name: str, allow: Iterable[str] = ()) -> None:
    """The view as it is now: no serious accessibility violation, no English on the
    Ukrainian page (`allow`: what it shows as data), saved as NAME.png at a desktop's
    width and NAME-phone.png at a phone's (checked there too); the size is put back."""
    size = page.viewport_size or DESKTOP
    page.set_viewport_size(DESKTOP)
    assert_accessible(page, name)
    assert_no_english(page, name, allow)
    shot(page, name)
    page.set_viewport_size(PHONE)
    assert_accessible(page, f"{name} (phone)")
    shot(page, f"{name}-phone")
    page.set_viewport_size(size)


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context (nothing remembered) and page; no uncaught script error
    may happen on it."""
    with open_page(browser, base_url, viewport=DESKTOP, accept_downloads=True) as opened:
        yield opened


def test_the_page_is_ukrainian_with_an_english_switch(page: Page, shot: Shot) -> None:
    page.goto("/")
    expect(page.locator("#login-form h1")).to_have_text("Вхід", timeout=FIRST_LOAD)
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    shot(page, "login-uk")
    page.click("#lang")
    expect(page.locator("#login-form h1")).to_have_text("Log in")
    page.reload()  # the choice is remembered
    expect(page.locator("#login-form h1")).to_have_text("Log in")
    shot(page, "login-en")
    page.fill("#login-name", "nobody")
    page.fill("#login-password", "wrong-password")
    page.click("#login-form button[type=submit]")
    expect(page.locator(".error")).to_contain_text("wrong name or password")
    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "uk")


def test_trainer_resets_a_seat_and_sees_it_ready(
    page: Page, shot: Shot, klass: tuple[str, ...], accounts: Accounts
) -> None:
    seat, name = klass[0], accounts["class"][0]
    log_in(page, *accounts["trainer"])
    expect(page.locator("h1")).to_have_text("Мої класи")
    expect(page.locator("#new-class-source option").first).to_be_attached()
    look(page, shot, "trainer-classes")
    page.click(f"a[href='#/classes/{name}']")
    row = page.locator(f"tr[data-seat='{seat}']")
    expect(row).to_have_attribute("data-ready", "yes")  # verified at baseline
    expect(row.locator("td.host-cell")).to_have_text("local")  # the host it runs on
    before = row.get_attribute("data-reset-at") or ""
    look(page, shot, "trainer-class-before-reset")

    row.locator("button.reset-seat").click()
    expect(row).to_have_attribute("data-ready", "busy")
    expect(page.locator("#progress .op-events li").first).to_be_visible(timeout=SLOW)
    # Ready again, verified, with a reset newer than any before it.
    expect(row).to_have_attribute("data-ready", "yes", timeout=SLOW)
    expect(page.locator("#progress .op-status.succeeded")).to_have_count(1)
    after = row.get_attribute("data-reset-at") or ""
    assert after and (not before or datetime.fromisoformat(after) > datetime.fromisoformat(before))
    expect(row.locator("td").nth(2)).to_contain_text("готове")
    expect(row.locator("td").nth(4)).to_contain_text("с")  # how long it took, in seconds
    shot(page, "trainer-class-after-reset")

    page.click("#large")  # the projector's large type
    shot(page, "trainer-class-projector")
    page.click("#large")
    page.set_viewport_size(PHONE)
    expect(row).to_be_visible()
    shot(page, "trainer-class-phone")


def test_trainer_resets_the_whole_class(
    page: Page, shot: Shot, klass: tuple[str, ...], accounts: Accounts
) -> None:
    log_in(page, *accounts["trainer"], where=f"/#/classes/{accounts['class'][0]}")
    rows = {seat: page.locator(f"tr[data-seat='{seat}']") for seat in klass}
    for row in rows.values():
        expect(row).to_have_attribute("data-ready", "yes")
    before = {seat: row.get_attribute("data-reset-at") or "" for seat, row in rows.items()}
    page.click("#reset-class")
    for row in rows.values():
        expect(row).to_have_attribute("data-ready", "busy")
    expect(page.locator("#progress .op-status.succeeded")).to_have_count(1, timeout=SLOW)
    expect(page.locator("#progress .op-status")).to_contain_text("class-reset class/")
    for seat, row in rows.items():
        expect(row).to_have_attribute("data-ready", "yes", timeout=SLOW)
        after = row.get_attribute("data-reset-at") or ""
        assert after and after != before[seat], (seat, before[seat], after)
    shot(page, "trainer-class-reset")


def test_trainer_schedules_a_class_reset(
    page: Page, shot: Shot, klass: tuple[str, ...], accounts: Accounts
) -> None:
    log_in(page, *accounts["trainer"], where=f"/#/classes/{accounts['class'][0]}")
    # Within the year a schedule may reach ahead.
    when = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%dT08:30")
    page.fill("#schedule-at", when)
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("#schedule-form .ok")).to_be_visible()
    expect(page.locator("#schedules tbody tr")).to_have_count(1)
    expect(page.locator("#schedules tbody tr")).to_contain_text("очікує")
    shot(page, "trainer-schedule")


def test_access_sheet_prints_and_downloads_and_its_passwords_work(
    page: Page,
    browser: Browser,
    base_url: str,
    shot: Shot,
    screenshots: Path,
    klass: tuple[str, ...],
    accounts: Accounts,
) -> None:
    log_in(page, *accounts["trainer"], where=f"/#/classes/{accounts['class'][0]}/sheet")
    page.click("#sheet-make")
    cards = page.locator(".sheet-card")
    expect(cards).to_have_count(len(klass))
    second = page.locator(f".sheet-card[data-seat='{klass[1]}']")
    login = second.locator("code.login").inner_text()
    password = second.locator("code.password").inner_text()
    assert login == klass[1] and re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", password)
    expect(second).to_contain_text(f"#/console/{klass[1]}/m1")
    expect(second).to_contain_text("trainee / ")  # the machine account and its password
    # The seats' network, drawn once: the seat's machine and its address in the picture.
    seat_machine = page.locator("#sheet-topology svg g[data-machine='m1']")
    expect(seat_machine).to_be_visible()
    expect(seat_machine).to_contain_text("net: 10.78.0.")
    expect(seat_machine).not_to_contain_text("керування")  # each seat's own: on its card
    look(page, shot, "access-sheet")

    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("#sheet-topology svg")).to_be_visible()  # printed with the cards
    shot(page, "access-sheet-print")
    page.pdf(path=str(screenshots / "access-sheet-printed.pdf"), format="A4")
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.click("#sheet-pdf")
    pdf = Path(download.value.path())
    assert pdf.read_bytes().startswith(b"%PDF")
    download.value.save_as(screenshots / "access-sheet.pdf")

    # The sheet's password is the trainee's way in: straight to their own seat.
    other = browser.new_context(viewport=PHONE, base_url=base_url, locale="uk-UA")
    phone = other.new_page()
    log_in(phone, login, password)
    expect(phone.locator(".seat-view")).to_have_attribute("data-lab", klass[1])
    shot(phone, "trainee-seat-phone")
    other.close()


def test_trainee_opens_the_console_logs_in_and_runs_a_command(
    page: Page, shot: Shot, web_settings: Settings, trainee: tuple[str, str]
) -> None:
    seat, password = trainee
    account_password = known_passwords(get_lab(web_settings, seat).plan.keys_dir)["trainee"]
    log_in(page, seat, password)
    expect(page.locator(".seat-view")).to_have_attribute("data-lab", seat)
    expect(page.locator(".machine")).to_have_count(1)  # their seat's machine, nothing else
    look(page, shot, "trainee-seat")
    page.click(".console-link")
    screen = page.locator(".xterm-rows")
    expect(page.locator("#console-status")).to_have_attribute("data-state", "connected")
    expect(screen).to_contain_text("login:", timeout=60_000)  # the guest's getty
    page.keyboard.type("trainee\n")
    expect(screen).to_contain_text("Password:", timeout=60_000)
    page.keyboard.type(account_password + "\n")
    expect(screen).to_contain_text("trainee@m1", timeout=120_000)
    page.keyboard.type("echo hromada-$((6*7))\n")
    expect(screen).to_contain_text("hromada-42", timeout=60_000)  # not in what was typed
    look(page, shot, "trainee-console")


def test_trainee_opens_the_graphical_console(
    page: Page, shot: Shot, trainee: tuple[str, str]
) -> None:
    seat, password = trainee
    log_in(page, seat, password, where=f"/#/vnc/{seat}/m1")
    expect(page.locator("#console-status")).to_have_attribute("data-state", "connected")
    canvas = page.locator("#vnc-screen canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    page.wait_for_timeout(2000)  # let the first frames arrive
    shot(page, "trainee-vnc")


def test_trainee_cannot_open_another_seats_console(
    page: Page, shot: Shot, base_url: str, klass: tuple[str, ...], trainee: tuple[str, str]
) -> None:
    seat, password = trainee
    other = klass[1]
    log_in(page, seat, password, where=f"/#/console/{other}/m1")
    status = page.locator("#console-status")
    expect(status).to_have_attribute("data-state", "refused")
    expect(status).to_contain_text("Доступ до цієї консолі заборонено")
    expect(page.locator(".xterm-rows")).not_to_contain_text("login:")
    shot(page, "trainee-console-refused")
    page.goto(f"/#/labs/{other}")
    expect(page.locator(".error")).to_contain_text(f"lab '{other}' is not yours")

    # By hand, from the page: a ticket for the own seat does not open the other's
    # websocket, and neither does none at all.
    outcome = page.evaluate(
        """async ([seat, other]) => {
            const token = sessionStorage.getItem("hlab.token");
            const grant = await (await fetch(`/api/v1/labs/${seat}/machines/m1/console-ticket`, {
                method: "POST", headers: {Authorization: `Bearer ${token}`},
            })).json();
            const attempt = (query) => new Promise((resolve) => {
                const ws = new WebSocket(`ws://${location.host}/api/v1/labs/${other}/machines/m1/console${query}`);
                ws.onopen = () => { ws.close(); resolve("opened"); };
                ws.onclose = (event) => resolve(`refused ${event.code}`);
            });
            const ticket = encodeURIComponent(grant.ticket);
            return [await attempt(`?ticket=${ticket}`), await attempt("")];
        }""",
        [seat, other],
    )
    assert outcome == ["refused 1006", "refused 1006"]  # 1006: the upgrade was refused

    # And outside the browser: the handshake is answered 403.
    ws_url = base_url.replace("http://", "ws://") + f"api/v1/labs/{other}/machines/m1/console"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{ws_url}?ticket=hc_forged", open_timeout=10)
    assert refused.value.response.status_code == 403


def test_engineer_sees_labs_images_operations_and_the_audit_log(
    page: Page, shot: Shot, klass: tuple[str, ...], accounts: Accounts
) -> None:
    log_in(page, *accounts["engineer"])
    expect(page.locator("h1")).to_have_text("Лабораторії")
    for seat in klass:
        expect(page.locator(f"tr[data-lab='{seat}']")).to_contain_text("працює")
    look(page, shot, "engineer-labs")

    page.click("a[href='#/images']")
    expect(page.locator("table")).to_contain_text("debian-12")
    # What uses the seats' image, and no way to remove it while they do.
    used = page.locator("tr[data-image='debian-12']")
    expect(used.locator("td.used-by")).to_contain_text(f"лабораторія {klass[0]}")
    expect(used.locator("button.image-remove")).to_have_count(0)
    look(page, shot, "engineer-images")

    # An operation, followed live from the operations list.
    started = page.evaluate(
        """async (seat) => {
            const token = sessionStorage.getItem("hlab.token");
            const response = await fetch(`/api/v1/labs/${seat}/reset`, {
                method: "POST", headers: {Authorization: `Bearer ${token}`},
            });
            return response.json();
        }""",
        klass[1],
    )
    page.click("a[href='#/operations']")
    row = page.locator(f"tr[data-op='{started['id']}']")
    expect(row).to_contain_text(f"lab/{klass[1]}")
    look(page, shot, "engineer-operations")
    row.locator("a").first.click()
    expect(page.locator("#progress .op-events li").first).to_be_visible(timeout=SLOW)
    expect(page.locator("#progress .op-status.succeeded")).to_be_visible(timeout=SLOW)
    look(page, shot, "engineer-operation")

    page.click("a[href='#/audit']")
    page.fill("#audit-filter", f"lab/{klass[1]}")
    page.press("#audit-filter", "Enter")
    audit = page.locator("tbody")
    expect(audit).to_contain_text(f"POST /api/v1/labs/{klass[1]}/reset")  # the request
    expect(audit.locator("tr").first).to_contain_text("успішно")  # the operation's end
    look(page, shot, "engineer-audit")


def test_engineer_removes_an_unused_image(
    page: Page, shot: Shot, web_settings: Settings, tmp_path: Path, accounts: Accounts
) -> None:
    """A tiny image nothing uses (written through the store, in the host's image store the
    module's home links to), removed after a dialog that names it. Old builds are only
    asked about (a dry run), never pruned here: the store is the host's."""
    name = f"{web_settings.prefix}spare"
    disk = tmp_path / "spare.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1M"], check=True)
    store = ImageStore(web_settings)
    store.import_file(disk, name, lambda _: None)
    try:
        log_in(page, *accounts["engineer"], where="/#/images")
        row = page.locator(f"tr[data-image='{name}']")
        expect(row.locator("td.used-by")).to_have_text("ніщо")
        row.locator("button.image-remove").click()
        dialog = page.locator("#image-remove-dialog")
        expect(dialog).to_contain_text(f"Видалити образ {name}?")
        expect(page.locator("#image-remove-dialog-cancel")).to_be_focused()
        look(page, shot, "engineer-image-remove")
        page.keyboard.press("Escape")  # no: nothing happens
        expect(dialog).to_have_count(0)
        expect(row).to_have_count(1)
        row.locator("button.image-remove").click()
        page.click("#image-remove-dialog-ok")
        expect(page.locator("#images-message")).to_contain_text(f"Образ {name} видалено.")
        expect(row).to_have_count(0)
        assert name not in {i.name for i in store.list()}

        # What a prune would free is said first; here it is only asked, then called off.
        page.click("#image-prune")
        asked = page.locator("#image-prune-dialog, #prune-result")
        expect(asked.first).to_be_visible()
        if page.locator("#image-prune-dialog").count():
            expect(page.locator("#image-prune-dialog")).to_contain_text("звільнить")
            page.click("#image-prune-dialog-cancel")
            expect(page.locator("#image-prune-dialog")).to_have_count(0)
    finally:
        if name in {i.name for i in store.list()}:
            store.remove(name, used_by=[])


def test_trainer_makes_a_class_sees_its_seat_ready_and_deletes_it(
    page: Page, shot: Shot, web_settings: Settings, klass: tuple[str, ...], accounts: Accounts
) -> None:
    """One seat only: guests boot under TCG on two cores."""
    name = "wn"
    seat = f"{name}-01"
    log_in(page, *accounts["trainer"])
    page.fill("#new-class-name", name)
    page.select_option("#new-class-source", "profile:classroom")
    page.fill("#new-class-seats", "1")
    page.click("#new-class-create")
    # The seat coming up: the operation's lines and the class's own status, live.
    expect(page.locator("#progress .op-events li").first).to_be_visible(timeout=SLOW)
    expect(page.locator(f"#new-class-seats-status tr[data-seat='{seat}']")).to_be_visible(
        timeout=SLOW
    )
    shot(page, "trainer-new-class-coming-up")
    # Then the class's page, its seat verified ready.
    expect(page.locator("h1")).to_have_text(f"Клас {name}", timeout=BOOT)
    row = page.locator(f"tr[data-seat='{seat}']")
    expect(row).to_have_attribute("data-ready", "yes", timeout=SLOW)
    shot(page, "trainer-new-class-ready")

    # At the end of term: deleted once its name is typed, never by a click alone.
    page.click("#delete-class")
    dialog = page.locator("#class-delete-dialog")
    expect(dialog).to_contain_text(f"Видалити клас {name}?")
    confirm = page.locator("#class-delete-dialog-ok")
    expect(confirm).to_be_disabled()
    page.fill("#class-delete-dialog-typed", "wb")
    expect(confirm).to_be_disabled()
    page.fill("#class-delete-dialog-typed", name)
    expect(confirm).to_be_enabled()
    look(page, shot, "trainer-delete-class")
    confirm.click()
    expect(page.locator("#classes-message")).to_have_text(f"Клас {name} видалено.", timeout=SLOW)
    expect(page.locator(f"#classes tr[data-class='{name}']")).to_have_count(0)
    expect(page.locator(f"#classes tr[data-class='{accounts['class'][0]}']")).to_have_count(1)
    domains = subprocess.run(
        ["virsh", "-c", web_settings.libvirt_uri, "list", "--all", "--name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [d for d in domains if d.startswith(f"{web_settings.prefix}{seat}.")], domains


def as_trainee(settings: Settings, seat: str, command: str) -> None:
    """What a trainee does at their seat: `command` on m1, logged in as `trainee` over SSH."""
    addr = guest_address(settings, seat, "m1").model_copy(update={"user": "trainee"})
    client = guest.connect(addr)
    try:
        result = guest.run_on(client, addr, command, 60)
    finally:
        client.close()
    assert result.exit_code == 0, result


def test_trainee_checks_the_task_and_sees_what_it_found(
    page: Page, shot: Shot, trainee: tuple[str, str]
) -> None:
    seat, password = trainee
    log_in(page, seat, password)
    course = page.locator("#course")
    expect(course).to_have_attribute("data-current", "report", timeout=FIRST_LOAD)
    expect(page.locator("#task-instructions")).to_contain_text("Бюджет 2027")
    shot(page, "trainee-course")
    page.click("#check-task")
    result = page.locator("#check-result")
    # The check runs on the guest, from the host side: what it found, in Ukrainian.
    expect(result).to_have_attribute("data-ok", "false", timeout=SLOW)
    expect(result).to_contain_text("/home/trainee/zvity/plan.txt")
    page.click("#hint-button")
    expect(page.locator("#hints li")).to_have_count(1)
    expect(page.locator("#hints")).to_contain_text("mkdir zvity")
    shot(page, "trainee-course-checked")
    page.set_viewport_size(PHONE)
    expect(page.locator("#check-task")).to_be_visible()
    shot(page, "trainee-course-phone")


def test_trainer_board_follows_a_seat_without_reloading(
    page: Page, shot: Shot, web_settings: Settings, klass: tuple[str, ...], accounts: Accounts
) -> None:
    other = klass[1]
    log_in(page, *accounts["trainer"], where=f"/#/classes/{accounts['class'][0]}")
    row = page.locator(f"#board tr[data-board-seat='{other}']")
    cell = row.locator("td[data-task='report']")
    expect(cell).to_have_attribute("data-state", "not-started", timeout=FIRST_LOAD)
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live")
    page.evaluate("window.stayedOnThePage = true")
    shot(page, "trainer-board-before")

    # The second seat's trainee tries, fails, does the task, passes (its checks and its
    # pass are what the seat's own page would run: the same use case).
    runs.check(web_settings, other)
    expect(cell).to_have_attribute("data-state", "failing", timeout=30_000)
    as_trainee(web_settings, other, "mkdir -p zvity && echo 'Бюджет 2027' > zvity/plan.txt")
    assert runs.check(web_settings, other).ok
    expect(cell).to_have_attribute("data-state", "done", timeout=30_000)
    expect(row).to_have_attribute("data-current", "share-folder")
    assert page.evaluate("window.stayedOnThePage") is True  # never reloaded
    shot(page, "trainer-board-after")


def test_results_download_with_a_row_per_seat_and_task(
    page: Page, screenshots: Path, klass: tuple[str, ...], accounts: Accounts
) -> None:
    log_in(page, *accounts["trainer"], where=f"/#/classes/{accounts['class'][0]}")
    expect(page.locator("#results-csv")).to_be_visible(timeout=FIRST_LOAD)
    with page.expect_download() as download:
        page.click("#results-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    download.value.save_as(screenshots / "course-results.csv")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:3] == ["Клас", "Курс", "Робоче місце"], header
    cells = {(r[2], r[5]): r for r in rows}
    assert set(cells) == {(s, t) for s in klass for t in ("report", "share-folder", "nightly-copy")}
    first, second = cells[(klass[0], "report")], cells[(klass[1], "report")]
    assert first[7] == "не пройдено" and int(first[8]) >= 1 and first[9] == "1", first
    assert second[7] == "виконано" and second[8] == "2" and second[13] == "10", second
    assert cells[(klass[1], "share-folder")][7] == "не розпочато"
    assert klass[0] in first[3]  # the seat's trainee, by name, as on the access sheet
    with page.expect_download() as pdf:
        page.click("#results-pdf")
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
    pdf.value.save_as(screenshots / "course-results.pdf")
