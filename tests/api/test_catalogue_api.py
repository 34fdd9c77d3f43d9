"""The catalogue's routes (api/routes/catalogue.py) over the fixture profiles of
tests/unit/fixtures/catalogue: staff only, the JSON shapes the web page reads, the CSV
and the unification report's PDF."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lab.catalogue import loader
from lab.settings import Settings
from tests.api.conftest import users_and_labs

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "catalogue"
Client = tuple[TestClient, dict[str, dict[str, str]]]


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "profiles"
    shutil.copytree(FIXTURES, folder)
    # the labs the conftest records are made of tiny.yaml
    shutil.copy(Path(__file__).parents[2] / "profiles" / "tiny.yaml", folder / "tiny.yaml")
    return folder


@pytest.fixture
def catalogue_client(tmp_path: Path, profiles_dir: Path) -> Iterator[Client]:
    loader.forget()
    settings = Settings(
        home=tmp_path / "home",
        libvirt_uri="test:///default",
        profiles_dir=profiles_dir,
        prefix="hlt-",
    )
    tokens = users_and_labs(settings)
    with TestClient(create_app(settings)) as client:
        yield client, {r: {"Authorization": f"Bearer {t}"} for r, t in tokens.items()}


ROUTES = (
    "/api/v1/catalogue",
    "/api/v1/catalogue/products/LibreOffice",
    "/api/v1/catalogue/permissions",
    "/api/v1/catalogue/formats",
    "/api/v1/catalogue/export.csv",
    "/api/v1/catalogue/unification",
    "/api/v1/catalogue/unification.pdf",
)


def test_staff_only(catalogue_client: Client) -> None:
    client, headers = catalogue_client
    for route in ROUTES:
        for role in ("trainee", "tester", "trainer"):
            answer = client.get(route, headers=headers[role])
            assert answer.status_code == 403, route
            assert answer.json()["hint"]
        assert client.get(route).status_code == 401
        assert client.get(route, headers=headers["engineer"]).status_code == 200, route


def test_matrix(catalogue_client: Client) -> None:
    client, headers = catalogue_client
    data = client.get("/api/v1/catalogue", headers=headers["engineer"]).json()
    assert set(data) == {"recommended", "profiles", "products", "invalid"}
    assert data["recommended"] == "stack"
    assert data["profiles"][0] == {
        "name": "stack",
        "community": "stack",
        "title": "Рекомендований стек",
        "recommended": True,
    }
    row = next(p for p in data["products"] if p["product"] == "АСКОД")
    assert set(row) == {"product", "kind", "vendors", "recommended_version", "versions"}
    assert row["versions"]["village"] == ["2.17.4"] and row["recommended_version"] == "3.0.12"
    assert data["invalid"][0]["name"] == "broken" and data["invalid"][0]["error"]
    packages = client.get(
        "/api/v1/catalogue", params={"kind": "package"}, headers=headers["admin"]
    ).json()
    assert [p["product"] for p in packages["products"]] == ["curl", "nginx"]
    everything = client.get(
        "/api/v1/catalogue", params={"include_packages": "true"}, headers=headers["admin"]
    ).json()
    assert len(everything["products"]) == 6


def test_product_permissions_formats(catalogue_client: Client) -> None:
    client, headers = catalogue_client
    staff = headers["engineer"]
    product = client.get("/api/v1/catalogue/products/m.e.doc", headers=staff).json()
    assert product["product"] == "M.E.Doc"
    (entry,) = product["entries"]
    assert entry["out_of_support"] is True and entry["support_ends"] == "2025-10-14"
    assert set(entry) >= {"profile", "community", "title", "machine", "permission", "formats"}
    missing = client.get("/api/v1/catalogue/products/Lotus", headers=staff)
    assert missing.status_code == 404 and missing.json()["hint"]
    permissions = client.get("/api/v1/catalogue/permissions", headers=staff).json()
    assert [(e["product"], e["permission"]["state"]) for e in permissions["entries"]] == [
        ("M.E.Doc", "none"),
        ("АСКОД", "requested"),
    ]
    formats = client.get("/api/v1/catalogue/formats", headers=staff).json()["formats"]
    docx = next(f for f in formats if f["format"] == "docx")
    assert docx["writes"] == [{"profile": "village", "product": "libreoffice"}]


def test_unification(catalogue_client: Client) -> None:
    client, headers = catalogue_client
    data = client.get("/api/v1/catalogue/unification", headers=headers["engineer"]).json()
    assert data["recommended"] == "stack"
    names = [c["profile"] for c in data["communities"]]
    assert names == ["tiny", "town", "village"]
    village = data["communities"][2]
    assert set(village) == {
        "profile",
        "community",
        "title",
        "missing",
        "extra",
        "versions",
        "formats",
    }
    assert village["missing"] == [{"product": "Debian GNU/Linux", "version": "12.5", "kind": "os"}]
    assert village["versions"][0] == {
        "product": "АСКОД",
        "recommended": "3.0.12",
        "theirs": ["2.17.4"],
    }
    assert village["formats"][0]["theirs"] == {"reads": ["docx"], "writes": ["docx"]}


def test_unification_without_a_recommended_profile_is_409(
    catalogue_client: Client, profiles_dir: Path
) -> None:
    client, headers = catalogue_client
    stack = profiles_dir / "stack.yaml"
    stack.write_text(stack.read_text().replace("recommended: true\n", ""), encoding="utf-8")
    for route in ("/api/v1/catalogue/unification", "/api/v1/catalogue/unification.pdf"):
        answer = client.get(route, headers=headers["admin"])
        assert answer.status_code == 409
        assert "recommended: true" in answer.json()["hint"]
    assert client.get("/api/v1/catalogue", headers=headers["admin"]).json()["recommended"] is None


def test_csv_download(catalogue_client: Client) -> None:
    client, headers = catalogue_client
    answer = client.get("/api/v1/catalogue/export.csv", headers=headers["engineer"])
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 11
    assert next(r for r in rows if r["product"] == "M.E.Doc")["vendor"].startswith("'=")


def pdf_text(data: bytes) -> str:
    """The text a PDF made by fpdf2 shows: each text run's glyph codes read back through
    its font's ToUnicode map (fpdf2 compresses the pages, not the maps)."""
    objects = {
        int(m.group(1)): m.group(2) for m in re.finditer(rb"(?s)\n(\d+) 0 obj(.*?)endobj", data)
    }

    def stream(body: bytes) -> str:
        raw = re.search(rb"(?s)stream\r?\n(.*?)\r?\nendstream", body)
        assert raw is not None
        try:
            return zlib.decompress(raw.group(1)).decode("latin-1")
        except zlib.error:
            return raw.group(1).decode("latin-1")

    maps: dict[str, dict[int, str]] = {}
    for body in objects.values():
        for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", body):
            described = objects[int(ref)]
            unicode = re.search(rb"/ToUnicode (\d+) 0 R", described)
            if unicode is None:
                continue
            cmap = stream(objects[int(unicode.group(1))])
            maps[name.decode()] = {
                int(code, 16): bytes.fromhex(uni).decode("utf-16-be")
                for code, uni in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)
            }
    text = []
    for body in objects.values():
        if b"stream" not in body or b"/Length" not in body:
            continue
        font: dict[int, str] = {}
        content = stream(body)
        if " Tj" not in content:
            continue
        for chosen, run in re.findall(r"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
            if chosen:
                font = maps.get(chosen, {})
                continue
            raw = re.sub(
                r"\\([0-7]{1,3}|.)",
                lambda m: (
                    chr(int(m.group(1), 8))
                    if m.group(1).isdigit()
                    else {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}.get(
                        m.group(1), m.group(1)
                    )
                ),
                run,
                flags=re.S,
            ).encode("latin-1")
            codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
            text.append("".join(font.get(c, "?") for c in codes))
    return "\n".join(text)


def test_unification_pdf(catalogue_client: Client) -> None:
    client, headers = catalogue_client
    answer = client.get("/api/v1/catalogue/unification.pdf", headers=headers["engineer"])
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    text = pdf_text(answer.content)
    assert "уніфікацію" in text
    for title in ("Рекомендований стек", "Містечко", "Село Верхнє"):
        assert title in text


def test_long_product_names_wrap_in_the_pdf() -> None:
    from datetime import date

    from api import catalogue_pdf
    from lab.catalogue.unification import ProductBrief, Unification
    from lab.profile.software import SoftwareKind

    long = "Комплексна інформаційна система електронного документообігу громади " * 1
    long = (long + "та її старостинських округів").strip()
    made = catalogue_pdf.render(
        Unification(recommended="stack", communities=()),
        [ProductBrief(product=long, version="1.0", kind=SoftwareKind.DOCUMENT_FLOW)],
        (),
        date(2026, 12, 4),
    )
    runs = pdf_text(made).splitlines()
    start = next(i for i, run in enumerate(runs) if run.startswith("Комплексна"))
    assert runs[start] != long  # wrapped onto further lines of its cell
    assert " ".join(runs[start : start + 4]).startswith(long[:60])
