"""The web page's words and scripts, read as files (no browser): every word is there in
Ukrainian and in English with the same placeholders, every word a script asks for
exists, no script writes HTML into the page (the course's instructions are parsed
inertly and copied element by element), and, where node is installed, every module
parses."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).parents[2] / "api" / "web"
SCRIPTS = sorted([*WEB.glob("*.js"), *WEB.glob("views/*.js")])
_ENTRY = re.compile(r'^ {4}([A-Za-z_]\w*): ("(?:[^"\\\n]|\\.)*"),$', re.M)
_LINE = re.compile(r"^ {4}\S", re.M)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ASKED = re.compile(r'\bt\(\s*"(\w+)"')
_MARKED = re.compile(r'data-i18n(?:-title)?="(\w+)"')
# Mappings from a state to its word's key (e.g. STATE_WORDS in views/course.js).
_MAPPED = re.compile(r"(?:WORDS|words)\s*=\s*\{([^}]*)\}")
_HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")


def _table(block: str) -> dict[str, str]:
    entries = _ENTRY.findall(block)
    # Every entry is one line `key: "text",`: one the pattern missed would go unchecked.
    assert len(entries) == len(_LINE.findall(block)), "an entry of i18n.js is not one line"
    table: dict[str, str] = {}
    for key, literal in entries:
        assert key not in table, f"{key} twice"
        table[key] = literal[1:-1]
    return table


def _tables() -> dict[str, dict[str, str]]:
    text = (WEB / "i18n.js").read_text()
    uk, en = text.index("\n  uk: {"), text.index("\n  en: {")
    end = text.index("\n};", en)
    return {"uk": _table(text[uk:en]), "en": _table(text[en:end])}


def test_every_word_is_in_both_languages_with_the_same_placeholders() -> None:
    tables = _tables()
    assert len(tables["uk"]) > 100  # the parse found the table
    assert tables["uk"].keys() == tables["en"].keys()
    for key, words in tables["uk"].items():
        assert words.strip() and tables["en"][key].strip(), key
        theirs = set(_PLACEHOLDER.findall(tables["en"][key]))
        assert set(_PLACEHOLDER.findall(words)) == theirs, key


def test_every_word_the_page_asks_for_exists() -> None:
    known = _tables()["uk"]
    asked: dict[str, Path] = {}
    for path in [*SCRIPTS, WEB / "index.html"]:
        text = path.read_text()
        for key in [*_ASKED.findall(text), *_MARKED.findall(text)]:
            asked[key] = path
        for mapping in _MAPPED.findall(text):
            for key in re.findall(r':\s*"(\w+)"', mapping):
                asked[key] = path
    assert {"checkTask", "hintButton", "boardLive", "resultsCsv", "taskDone"} <= asked.keys()
    missing = {key: str(path.relative_to(WEB)) for key, path in asked.items() if key not in known}
    assert not missing


def test_no_script_writes_html_into_the_page() -> None:
    for path in SCRIPTS:
        text = path.read_text()
        for sink in _HTML_SINKS:
            assert sink not in text, (path.name, sink)
        # The one piece of markup from elsewhere: the course's instructions, parsed into
        # an inert document and copied over element by element.
        if "parseFromString" in text:
            assert path.name == "course.js", path


def test_the_course_views_use_the_ids_the_page_promises() -> None:
    course = (WEB / "views" / "course.js").read_text()
    board = (WEB / "views" / "board.js").read_text()
    for name in ("check-task", "check-result", "hint-button", "hints", "restart-task"):
        assert f'"{name}"' in course, name
    for name in ("board", "results-csv", "results-pdf", "restart-task"):
        assert f'"{name}"' in board, name


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.relative_to(WEB).as_posix())
def test_every_module_parses(path: Path) -> None:
    # As a module from stdin: node takes a .js file outside a "type": "module" package
    # as CommonJS and would not say what is wrong with an ES module.
    with path.open("rb") as source:
        done = subprocess.run(
            ["node", "--check", "--input-type=module"],
            stdin=source,
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
