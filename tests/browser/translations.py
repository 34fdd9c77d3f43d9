"""No English left on the Ukrainian page: none of the translation table's English words
(api/web/i18n.js) shows in the page's main part or its menu, in text or in the labels a
screen reader reads. What the page did not write is left out: what the API and the
guests say (progress lines, a console's screen, code, anything marked `lang="en"`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from playwright.sync_api import Page

from tests.api.test_web_words import _tables

# Not the page's words: the server's progress lines, a terminal, code, marked English.
_SKIP = "code, pre, .op-events, .xterm, .terminal, canvas, [lang]:not([lang='uk'])"
_SHOWN = """(skip) => {
  const roots = [document.querySelector("main"), document.querySelector("nav#nav")];
  const texts = [];
  for (const root of roots.filter(Boolean)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.closest(skip)) texts.push(node.textContent);
    }
    for (const el of root.querySelectorAll("[aria-label], [title], [placeholder], [alt]")) {
      if (el.closest(skip)) continue;
      for (const name of ["aria-label", "title", "placeholder", "alt"]) {
        if (el.hasAttribute(name)) texts.push(el.getAttribute(name));
      }
    }
  }
  for (const el of document.querySelectorAll("dialog[open]")) texts.push(el.innerText);
  return texts.map((text) => text.trim()).filter(Boolean);
}"""


def _phrases() -> dict[str, list[str]]:
    """Per key, the English phrases to look for: a whole word, or the words of a
    sentence around its values; none that Ukrainian shares."""
    tables = _tables()
    found: dict[str, list[str]] = {}
    for key, english in tables["en"].items():
        if english == tables["uk"][key]:
            continue
        parts = re.split(r"\{\w+\}", english)
        found[key] = [p.strip(" :·—-,.()") for p in parts if len(p.strip(" :·—-,.()")) >= 2]
    return found


def english_left(page: Page, allow: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(key, phrase) of each English phrase of the table the page shows now. A phrase of
    one lower-case word ("never", "other") counts only as a whole text of its own: as a
    word among others it is as likely a name the API gave (a lab called `other`)."""
    texts: list[str] = page.evaluate(_SHOWN, _SKIP)
    whole, joined = set(texts), "\n".join(texts)
    allowed = set(allow)
    left = []
    for key, phrases in _phrases().items():
        for phrase in phrases:
            if phrase in allowed:
                continue
            if re.fullmatch(r"[a-z]+", phrase):
                found = phrase in whole
            else:
                found = bool(re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", joined))
            if found:
                left.append((key, phrase))
    return left


def assert_no_english(page: Page, view: str, allow: Iterable[str] = ()) -> None:
    """The Ukrainian page as it is now shows none of the table's English words (`allow`:
    phrases this view shows as data, e.g. a name the API gives)."""
    left = english_left(page, allow)
    assert not left, f"{view}: English on the Ukrainian page: {left}"
