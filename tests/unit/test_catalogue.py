"""The software catalogue (lab.catalogue) over the fixture profiles of
tests/unit/fixtures/catalogue: stack (recommended), town (the stack as it is, spelt in
other case), village (differs), broken (does not load), _base (their base)."""

from __future__ import annotations

import csv
import io
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from lab.catalogue import export, loader, queries, unification, views
from lab.catalogue.entries import ProfileSoftware, flatten
from lab.errors import ConflictError, NotFoundError
from lab.profile import load_profile
from lab.profile.software import SoftwareKind
from lab.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"
TODAY = date(2026, 12, 4)


@pytest.fixture
def profiles() -> list[ProfileSoftware]:
    return [
        ProfileSoftware.of(name, load_profile(FIXTURES / f"{name}.yaml"))
        for name in ("stack", "town", "village")
    ]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "profiles"
    shutil.copytree(FIXTURES, folder)
    loader.forget()
    return Settings(home=tmp_path / "home", profiles_dir=folder)


def test_entries_one_per_profile_machine_and_product(profiles: list[ProfileSoftware]) -> None:
    entries = flatten(profiles, TODAY)
    assert len(entries) == 4 + 3 + 4
    medoc = next(e for e in entries if e.product == "M.E.Doc")
    assert (medoc.profile, medoc.community, medoc.title, medoc.machine) == (
        "village",
        "village",
        "Село Верхнє",
        "pc",
    )
    assert medoc.out_of_support and medoc.support_ends == date(2025, 10, 14)
    assert medoc.permission.outstanding
    assert not flatten(profiles, date(2025, 1, 1))[-2].out_of_support


def test_matrix_matches_products_whatever_the_case(profiles: list[ProfileSoftware]) -> None:
    made = views.matrix(profiles, flatten(profiles, TODAY))
    assert made.recommended == "stack"
    assert [p.name for p in made.profiles] == ["stack", "town", "village"]
    rows = {r.product: r for r in made.products}
    assert set(rows) == {"Debian GNU/Linux", "АСКОД", "LibreOffice", "M.E.Doc"}  # no packages
    assert rows["АСКОД"].versions == {
        "stack": ("3.0.12",),
        "town": ("3.0.12",),
        "village": ("2.17.4",),
    }
    assert rows["АСКОД"].recommended_version == "3.0.12"
    assert rows["АСКОД"].vendors == ("Інтелект-Сервіс",)
    assert rows["M.E.Doc"].recommended_version is None
    assert rows["LibreOffice"].kind is SoftwareKind.OFFICE


def test_matrix_shows_packages_when_asked(profiles: list[ProfileSoftware]) -> None:
    entries = flatten(profiles, TODAY)
    packages = views.matrix(profiles, entries, kind=SoftwareKind.PACKAGE)
    assert [r.product for r in packages.products] == ["curl", "nginx"]
    everything = views.matrix(profiles, entries, include_packages=True)
    assert len(everything.products) == 6


def test_product_view(profiles: list[ProfileSoftware]) -> None:
    made = views.product_view(flatten(profiles, TODAY), "libreoffice")
    assert made.product == "LibreOffice"
    assert [(e.profile, e.version) for e in made.entries] == [
        ("stack", "24.8.4"),
        ("town", "24.8.4"),
        ("village", "7.5.9"),
    ]
    with pytest.raises(NotFoundError) as caught:
        views.product_view(flatten(profiles, TODAY), "Lotus Notes")
    assert "Lotus Notes" in caught.value.message and caught.value.hint


def test_outstanding_permissions(profiles: list[ProfileSoftware]) -> None:
    made = views.outstanding(flatten(profiles, TODAY))
    assert [(e.product, e.profile, e.permission.state.value) for e in made.entries] == [
        ("M.E.Doc", "village", "none"),
        ("АСКОД", "village", "requested"),
    ]
    with_packages = views.outstanding(flatten(profiles, TODAY), include_packages=True)
    assert len(with_packages.entries) == 4  # nginx and curl: permission not stated


def test_formats_in_use(profiles: list[ProfileSoftware]) -> None:
    made = {row.format: row for row in views.formats(flatten(profiles, TODAY)).formats}
    assert set(made) == {"docx", "odt", "p7s", "pdf", "xml"}
    assert [(u.profile, u.product) for u in made["docx"].writes] == [("village", "libreoffice")]
    assert ("village", "M.E.Doc") in {(u.profile, u.product) for u in made["xml"].reads}
    assert len(made["docx"].reads) == 6  # each profile by its own spelling


def test_unification(profiles: list[ProfileSoftware]) -> None:
    made = unification.unification(profiles)
    assert made.recommended == "stack"
    town, village = made.communities
    assert town.profile == "town" and town.same
    assert [p.product for p in village.missing] == ["Debian GNU/Linux"]
    assert village.missing[0].version == "12.5"
    assert [(p.product, p.version, p.kind) for p in village.extra] == [
        ("M.E.Doc", "11.02.155", SoftwareKind.ACCOUNTING)
    ]
    assert [(v.product, v.recommended, v.theirs) for v in village.versions] == [
        ("АСКОД", "3.0.12", ("2.17.4",)),
        ("LibreOffice", "24.8.4", ("7.5.9",)),
    ]
    (office,) = village.formats
    assert office.product == "LibreOffice"
    assert office.recommended.writes == ("odt", "pdf") and office.theirs.writes == ("docx",)


def test_unification_leaves_packages_out_unless_asked(profiles: list[ProfileSoftware]) -> None:
    village = unification.unification(profiles, include_packages=True, community="village")
    (only,) = village.communities
    assert {p.product for p in only.missing} == {"Debian GNU/Linux", "nginx"}
    assert "curl" in {p.product for p in only.extra}
    with pytest.raises(NotFoundError):
        unification.unification(profiles, community="nowhere")


def test_no_recommended_profile(profiles: list[ProfileSoftware]) -> None:
    plain = [p.model_copy(update={"recommended": False}) for p in profiles]
    with pytest.raises(ConflictError) as caught:
        unification.unification(plain)
    assert "recommended: true" in caught.value.hint
    assert views.matrix(plain, flatten(plain, TODAY)).recommended is None


def test_two_recommended_profiles(profiles: list[ProfileSoftware]) -> None:
    two = [p.model_copy(update={"recommended": p.name != "village"}) for p in profiles]
    with pytest.raises(ConflictError) as caught:
        unification.recommended_profile(two)
    assert "stack, town" in caught.value.message
    assert caught.value.hint


def test_csv_of_every_entry_is_formula_safe(profiles: list[ProfileSoftware]) -> None:
    text = export.to_csv(flatten(profiles, TODAY))
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 11
    medoc = next(r for r in rows if r["product"] == "M.E.Doc")
    assert medoc["vendor"] == '\'=HYPERLINK("http://x")'
    assert medoc["out_of_support"] == "yes" and medoc["writes"] == "xml p7s"
    assert export.safe_cell("-1") == "'-1" and export.safe_cell("@x") == "'@x"
    assert export.safe_cell("1.0") == "1.0"


def test_loader_lists_invalid_and_leaves_bases_out(settings: Settings) -> None:
    made = loader.load_catalogue(settings)
    assert [p.name for p in made.profiles] == ["stack", "town", "village"]
    ((name, error),) = [(i.name, i.error) for i in made.invalid]
    assert name == "broken" and "broken.yaml:6" in error
    assert str(settings.profiles_dir) not in error


def test_loader_reads_again_only_what_changed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = load_profile

    def counting(path: Path | str) -> object:
        read.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(loader, "load_profile", counting)
    first = loader.load_catalogue(settings)
    assert sorted(read) == ["broken.yaml", "stack.yaml", "town.yaml", "village.yaml"]
    read.clear()
    assert loader.load_catalogue(settings) is first and read == []

    town = settings.profiles_dir / "town.yaml"
    town.write_text(town.read_text().replace("24.8.4", "24.8.5"), encoding="utf-8")
    os.utime(town, ns=(1, 1))
    changed = loader.load_catalogue(settings)
    assert read == ["town.yaml"] and changed is not first
    row = next(
        r
        for r in views.matrix(changed.profiles, changed.entries(TODAY)).products
        if r.product == "LibreOffice"
    )
    assert row.versions["town"] == ("24.8.5",)

    read.clear()
    base = settings.profiles_dir / "_base.yaml"
    base.write_text(base.read_text() + "\n", encoding="utf-8")
    loader.load_catalogue(settings)
    assert sorted(read) == ["broken.yaml", "stack.yaml", "town.yaml", "village.yaml"]


def test_a_new_process_reads_only_what_changed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = queries.matrix(settings, TODAY)
    assert loader.cache_file(settings).is_file()
    loader.forget()  # as a new process would start
    read: list[str] = []
    real = load_profile

    def counting(path: Path | str) -> object:
        read.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(loader, "load_profile", counting)
    (settings.profiles_dir / "village.yaml").unlink()
    again = queries.matrix(settings, TODAY)
    assert read == []  # the others came from the cache file
    assert [p.name for p in again.profiles] == ["stack", "town"]
    assert again.products != first.products


def test_a_damaged_cache_file_is_read_past(settings: Settings) -> None:
    queries.matrix(settings, TODAY)
    loader.cache_file(settings).write_text('{"version": 1, "files": {"stack.yaml": 3}}')
    loader.forget()
    assert [p.name for p in queries.matrix(settings, TODAY).profiles] == [
        "stack",
        "town",
        "village",
    ]


def test_views_are_computed_once_per_state(settings: Settings) -> None:
    assert queries.report(settings) is queries.report(settings)
    assert queries.matrix(settings, TODAY) is queries.matrix(settings, TODAY)
    assert queries.matrix(settings, TODAY) is not queries.matrix(
        settings, TODAY, include_packages=True
    )
