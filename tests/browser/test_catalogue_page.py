"""The software catalogue's pages in a real headless Chromium against the app serving the
fixture profiles of tests/browser/profiles/catalogue (no guests): an engineer reads the
products × communities matrix (the recommended stack first, other versions marked by a
sign, not by colour alone), filters it by kind, opens a product, the permissions
outstanding, the data formats and the unification report, and downloads its PDF and the
catalogue's CSV; everything by keyboard too, and in Ukrainian with no English left. A
tester has no catalogue: no menu entry, and the API's refusal by URL. A catalogue of ten
communities and forty products stays readable, on a desktop and on a phone. Every view is
saved as a screenshot."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from api.app import create_app
from lab.access.logins import LoginStore
from lab.access.users import Role, UserStore
from lab.catalogue import loader
from lab.settings import Settings
from lab.store.state import StateStore
from tests.browser.serving import log_in, open_page, serve
from tests.browser.translations import assert_no_english

Shot = Callable[[Page, str], Path]
ENGINEER = ("taras", "engineer-pass-1")
TESTER = ("ivan", "tester-pass-22")
FIXTURES = Path(__file__).parent / "profiles" / "catalogue"
PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)

pytestmark = pytest.mark.timeout(300)


def _settings(home: Path, profiles: Path) -> Settings:
    loader.forget()  # the catalogue this process read for another directory
    settings = Settings(
        home=home, libvirt_uri="test:///default", profiles_dir=profiles, prefix="hlt-"
    )
    state = StateStore.open(settings)
    users, logins = UserStore(state), LoginStore(state, UserStore(state))
    users.add(ENGINEER[0], Role.ENGINEER)
    users.add(TESTER[0], Role.TESTER)
    logins.set_password(*ENGINEER)
    logins.set_password(*TESTER)
    return settings


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serve(create_app(_settings(tmp_path / "home", FIXTURES)), lifespan="on") as url:
        yield url


@pytest.fixture
def page(browser: Browser, served: str) -> Iterator[Page]:
    with open_page(browser, served, viewport=DESKTOP, accept_downloads=True) as opened:
        yield opened


def cell(page: Page, product: str, profile: str) -> Locator:
    return page.locator(
        f"#catalogue-table tr[data-product='{product}'] td[data-profile='{profile}']"
    )


def no_english_left(page: Page) -> None:
    """None of the page's English words is on the Ukrainian catalogue."""
    assert_no_english(page, "catalogue")


def test_an_engineer_reads_the_matrix_and_filters_it(page: Page, shot: Shot) -> None:
    log_in(page, *ENGINEER)
    page.click("nav#nav a[href='#/catalogue']")
    expect(page.locator("h1")).to_have_text("Каталог програм громад")
    expect(page.locator("nav#nav a[href='#/catalogue']")).to_have_attribute("aria-current", "page")
    table = page.locator("#catalogue-table")
    # The recommended stack's column first, and marked so in words.
    headers = table.locator("thead th[data-profile]")
    expect(headers).to_have_count(4)
    assert [h.get_attribute("data-profile") for h in headers.all()] == [
        "stack",
        "city",
        "town",
        "village",
    ]
    expect(headers.first).to_contain_text("★ Рекомендований")
    expect(headers.first).to_contain_text("Рекомендований стек")
    expect(table.locator("tbody tr")).to_have_count(7)  # the package (nginx) is left out
    expect(page.locator("#catalogue-counts")).to_have_text("Продуктів: 7; профілів: 4")

    # The versions; one other than the stack's is marked by a sign and in words.
    expect(cell(page, "АСКОД", "stack")).to_have_text("3.0.12")
    expect(cell(page, "АСКОД", "town")).to_have_attribute("data-state", "same")
    village = cell(page, "АСКОД", "village")
    expect(village).to_have_attribute("data-state", "differs")
    expect(village).to_contain_text("≠ 2.17.4")
    expect(village.locator(".sr-only")).to_have_text(" (інша версія: рекомендовано 3.0.12)")
    expect(cell(page, "PostgreSQL", "city")).to_contain_text("≠ 13.14, 15.6")
    expect(cell(page, "PostgreSQL", "village")).to_have_attribute("data-state", "absent")
    expect(cell(page, "PostgreSQL", "village").locator(".sr-only")).to_have_text("немає")
    expect(cell(page, "Debian GNU/Linux", "city")).to_contain_text("≠ 11.9")
    office = table.locator("tr[data-product='Microsoft Office'] th")
    expect(office).to_contain_text("немає в рекомендованому стеку")
    expect(cell(page, "Microsoft Office", "city")).to_have_attribute("data-state", "same")
    no_english_left(page)
    shot(page, "catalogue-matrix")

    # The filter by kind, kept in the address; the view is not drawn anew (the focus stays).
    page.focus("#catalogue-kind")
    page.select_option("#catalogue-kind", "office")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.locator("#catalogue-counts")).to_have_text("Продуктів: 2; профілів: 4")
    assert page.url.endswith("#/catalogue?kind=office")
    expect(page.locator("#catalogue-kind")).to_be_focused()
    page.reload()
    expect(page.locator("#catalogue-table tbody tr")).to_have_count(2)
    expect(page.locator("#catalogue-kind")).to_have_value("office")
    shot(page, "catalogue-matrix-office")
    page.select_option("#catalogue-kind", "package")
    expect(page.locator("#catalogue-table tbody tr")).to_have_count(1)
    expect(page.locator("#catalogue-table tbody tr")).to_have_attribute("data-product", "nginx")
    page.select_option("#catalogue-kind", "")
    expect(page.locator("#catalogue-table tbody tr")).to_have_count(7)

    # By keyboard: from the filter to the table's box (it scrolls: it takes the focus,
    # visibly), then to the first product, which opens.
    page.focus("#catalogue-kind")
    page.keyboard.press("Tab")
    wrap = page.locator(".matrix-wrap")
    expect(wrap).to_be_focused()
    expect(wrap).to_have_attribute("aria-label", "Програми за громадами")
    assert wrap.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    page.keyboard.press("Tab")
    first = page.locator("#catalogue-table tbody tr").first.locator("a.product-link")
    expect(first).to_be_focused()
    assert first.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    product = first.inner_text()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(f"Продукт: {product}")

    # In English too.
    page.click("#lang")
    expect(page.locator("h1")).to_have_text(f"Product: {product}")
    page.click("nav.subnav a[href='#/catalogue']")
    expect(page.locator("h1")).to_have_text("Communities' software catalogue")
    expect(page.locator("#catalogue-table thead th").first).to_have_text("Product")
    shot(page, "catalogue-matrix-en")
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Каталог програм громад")

    page.set_viewport_size(PHONE)
    expect(table).to_be_visible()
    _scrolls_with_the_product_in_sight(page)
    shot(page, "catalogue-matrix-phone")


def _scrolls_with_the_product_in_sight(page: Page) -> None:
    """The matrix scrolls sideways in its box, not the page; the products' column stays
    in sight."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    wrap = page.locator(".matrix-wrap")
    assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")
    row = page.locator("#catalogue-table tbody tr").first.locator("th")
    left = wrap.bounding_box()
    assert left is not None
    wrap.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    assert wrap.evaluate("e => e.scrollLeft") > 0
    box = row.bounding_box()
    assert box is not None and abs(box["x"] - left["x"]) < 3, (box, left)
    wrap.evaluate("e => { e.scrollLeft = 0; }")


def test_an_engineer_opens_a_product_permissions_and_formats(page: Page, shot: Shot) -> None:
    log_in(page, *ENGINEER)
    page.click("nav#nav a[href='#/catalogue']")
    # A name with a slash in it.
    page.click("#catalogue-table tr[data-product='Debian GNU/Linux'] a.product-link")
    expect(page.locator("h1")).to_have_text("Продукт: Debian GNU/Linux")
    expect(page.locator("#product-summary")).to_contain_text("Рекомендована версія: 12.5.")
    expect(page.locator("#product-summary")).to_contain_text("Без підтримки виробника: 1.")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)  # stack, city, town: the village has no Debian
    expect(rows.first).to_have_attribute("data-profile", "stack")  # the stack's first
    city = page.locator("tr[data-profile='city']")
    expect(city).to_have_attribute("data-out-of-support", "true")
    expect(city).to_contain_text("⚠ підтримку завершено")
    expect(city).to_contain_text("≠ 11.9")
    expect(city).to_contain_text("Місто Південне")
    expect(page.locator("tr[data-profile='town']")).to_have_attribute(
        "data-out-of-support", "false"
    )
    expect(page.locator("tr[data-profile='stack']")).to_contain_text("★ Рекомендований")
    no_english_left(page)
    shot(page, "catalogue-product")
    page.set_viewport_size(PHONE)
    expect(city).to_be_visible()
    shot(page, "catalogue-product-phone")
    page.set_viewport_size(DESKTOP)

    page.click("nav.subnav a[href='#/catalogue/permissions']")
    expect(page.locator("h1")).to_have_text("Дозволи виробників, що чекають")
    outstanding = page.locator("#catalogue-permissions tbody tr")
    expect(outstanding).to_have_count(4)
    found = {
        (r.get_attribute("data-product"), r.get_attribute("data-profile"))
        for r in outstanding.all()
    }
    assert found == {
        ("АСКОД", "village"),
        ("M.E.Doc", "village"),
        ("Microsoft Office", "city"),
        ("ІС-ПРО", "city"),
    }
    expect(page.locator("tr[data-product='M.E.Doc']")).to_contain_text("не запитано")
    expect(page.locator("tr[data-product='АСКОД']")).to_contain_text("запитано")
    expect(page.locator("tr[data-product='АСКОД']")).to_contain_text("запит № 3")
    expect(page.locator("nav.subnav a[aria-current='page']")).to_have_text("Дозволи, що чекають")
    no_english_left(page)
    shot(page, "catalogue-permissions")
    page.set_viewport_size(PHONE)
    shot(page, "catalogue-permissions-phone")
    page.set_viewport_size(DESKTOP)

    page.click("nav.subnav a[href='#/catalogue/formats']")
    expect(page.locator("h1")).to_have_text("Формати даних")
    docx = page.locator("#catalogue-formats tr[data-format='docx']")
    expect(docx.locator("td").nth(1)).to_contain_text("АСКОД — city, stack, town, village")
    expect(docx.locator("td").nth(2)).to_contain_text("LibreOffice — village")
    expect(docx.locator("td").nth(2)).to_contain_text("Microsoft Office — city")
    no_english_left(page)
    shot(page, "catalogue-formats")
    page.set_viewport_size(PHONE)
    shot(page, "catalogue-formats-phone")


def test_an_engineer_reads_the_unification_report_and_downloads(
    page: Page, shot: Shot, screenshots: Path
) -> None:
    log_in(page, *ENGINEER)
    page.click("nav#nav a[href='#/catalogue']")
    page.click("nav.subnav a[href='#/catalogue/unification']")
    expect(page.locator("h1")).to_have_text("Звіт про уніфікацію")
    summary = page.locator("#unification-summary tbody tr")
    expect(summary).to_have_count(3)
    expect(page.locator("#unification-summary tr[data-profile='village'] td").nth(1)).to_have_text(
        "2"
    )

    village = page.locator("section.community-diff[data-profile='village']")
    expect(village.locator("h2")).to_contain_text("Село Верхнє")
    missing = village.locator("[data-part='missing'] tbody tr")
    expect(missing).to_have_count(2)
    expect(village.locator("[data-part='missing']")).to_contain_text("Debian GNU/Linux")
    expect(village.locator("[data-part='missing']")).to_contain_text("PostgreSQL")
    expect(village.locator("[data-part='extra']")).to_contain_text("M.E.Doc")
    versions = village.locator("[data-part='versions'] tr[data-product='АСКОД']")
    expect(versions).to_contain_text("3.0.12")
    expect(versions).to_contain_text("≠ 2.17.4")
    formats = village.locator("[data-part='formats'] tr[data-product='LibreOffice']")
    expect(formats).to_contain_text("пише також: docx")
    expect(formats).to_contain_text("не пише: odt, pdf")
    expect(formats).to_contain_text("не читає: odt")
    town = page.locator("section.community-diff[data-profile='town']")
    expect(town).to_contain_text("Працює на рекомендованому стеку без відмінностей.")
    no_english_left(page)
    shot(page, "catalogue-unification")

    # From the summary to a community's part, by keyboard.
    page.locator("#unification-summary tr[data-profile='village'] a").focus()
    page.keyboard.press("Enter")
    expect(village.locator("h2")).to_be_focused()
    page.set_viewport_size(PHONE)
    expect(village).to_be_visible()
    shot(page, "catalogue-unification-phone")
    page.set_viewport_size(DESKTOP)

    with page.expect_download() as pdf:
        page.click("#unification-pdf")
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")
    assert pdf.value.suggested_filename == "unification.pdf"
    pdf.value.save_as(screenshots / "catalogue-unification.pdf")

    with page.expect_download() as download:
        page.click("#catalogue-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    download.value.save_as(screenshots / "catalogue.csv")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:5] == ["profile", "community", "title", "machine", "product"], header
    by = {(r[0], r[3], r[4]): dict(zip(header, r, strict=True)) for r in rows}
    medoc = by[("village", "pc", "M.E.Doc")]
    assert medoc["version"] == "11.02.155" and medoc["out_of_support"] == "yes"
    assert ("stack", "srv", "nginx") in by  # the CSV has every entry, packages too
    expect(page.locator("#catalogue-message .error")).to_have_count(0)


def test_without_a_recommended_stack_the_report_says_what_to_do(
    browser: Browser, tmp_path: Path
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("_base.yaml", "town.yaml", "village.yaml"):
        (profiles / name).write_text((FIXTURES / name).read_text())
    with (
        serve(create_app(_settings(tmp_path / "home", profiles))) as url,
        open_page(browser, url, viewport=DESKTOP) as page,
    ):
        log_in(page, *ENGINEER)
        page.goto("/#/catalogue")
        expect(page.locator("main")).to_contain_text("Жоден профіль не позначено")
        expect(page.locator("#catalogue-table thead th[data-profile]")).to_have_count(2)
        expect(page.locator("#catalogue-table td[data-state='differs']")).to_have_count(0)
        page.click("nav.subnav a[href='#/catalogue/unification']")
        error = page.locator("main .error")
        expect(error).to_contain_text("no profile is marked as the recommended stack")
        expect(error.locator(".hint")).to_contain_text("recommended: true")
        expect(page.locator("nav.subnav")).to_be_visible()  # the catalogue's menu stays


def test_a_tester_has_no_catalogue(page: Page, shot: Shot) -> None:
    log_in(page, *TESTER)
    expect(page.locator("nav#nav a[href='#/labs']")).to_be_visible()
    expect(page.locator("nav#nav a[href='#/catalogue']")).to_have_count(0)
    page.goto("/#/catalogue")
    error = page.locator("main .error")
    expect(error).to_contain_text("Доступ заборонено")
    expect(error.locator(".hint")).not_to_be_empty()
    shot(page, "catalogue-tester-refused")
    page.goto("/#/catalogue/unification")
    expect(page.locator("main .error")).to_contain_text("Доступ заборонено")
    status = page.evaluate(
        """async () => (await fetch("/api/v1/catalogue/export.csv", {
            headers: {Authorization: `Bearer ${sessionStorage.getItem("hlab.token")}`},
        })).status"""
    )
    assert status == 403


def _many(folder: Path, communities: int = 10, products: int = 40) -> None:
    """A directory of `communities` profiles besides the recommended stack, with
    `products` products between them; each community differs somewhere."""
    folder.mkdir()
    (folder / "_base.yaml").write_text((FIXTURES / "_base.yaml").read_text())
    kinds = ("document-flow", "accounting", "office", "database", "registry", "portal")
    for n in range(communities + 1):
        name = "stack" if n == 0 else f"hromada-{n:02d}"
        title = "Рекомендований стек" if n == 0 else f"Громада з довгою назвою № {n}"
        lines = [
            "extends: _base.yaml",
            *(["recommended: true"] if n == 0 else []),
            "community:",
            f"  name: {name}",
            f'  title: "{title}"',
            '  oblast: "Київська"',
            "  kind: rural",
            "machines:",
            "  - name: srv",
            "    image: debian-12",
            "    memory: 512MiB",
            "    nics: [{network: office}]",
            "    software:",
        ]
        for p in range(products):
            if n and (p + n) % 7 == 0:
                continue  # missing here
            version = f"{1 + p % 5}.{p % 3}" if not n or (p * n) % 5 else f"{p % 4}.9"
            lines.append(
                f'      - {{product: "Програма обліку та документообігу {p:02d}",'
                f' version: "{version}", kind: {kinds[p % len(kinds)]},'
                " permission: {state: not-needed}}"
            )
        (folder / f"{name}.yaml").write_text("\n".join(lines) + "\n")


def test_a_wide_catalogue_stays_readable(browser: Browser, tmp_path: Path, shot: Shot) -> None:
    _many(tmp_path / "profiles")
    with (
        serve(create_app(_settings(tmp_path / "home", tmp_path / "profiles"))) as url,
        open_page(browser, url, viewport=DESKTOP) as page,
    ):
        log_in(page, *ENGINEER)
        page.goto("/#/catalogue")
        table = page.locator("#catalogue-table")
        expect(table.locator("tbody tr")).to_have_count(40)
        expect(table.locator("thead th[data-profile]")).to_have_count(11)
        expect(table.locator("thead th[data-profile]").first).to_have_attribute(
            "data-profile", "stack"
        )
        assert table.locator("td[data-state='differs']").count() > 10
        shot(page, "catalogue-matrix-wide")
        _scrolls_with_the_product_in_sight(page)
        # Scrolled down in its box, the communities' row stays in sight.
        wrap = page.locator(".matrix-wrap")
        top = wrap.bounding_box()
        wrap.evaluate("e => { e.scrollTop = e.scrollHeight; }")
        assert wrap.evaluate("e => e.scrollTop") > 0
        head = table.locator("thead th").first.bounding_box()
        assert top is not None and head is not None and abs(head["y"] - top["y"]) < 3
        wrap.evaluate("e => { e.scrollTop = 0; }")
        page.set_viewport_size(PHONE)
        _scrolls_with_the_product_in_sight(page)
        shot(page, "catalogue-matrix-wide-phone")
