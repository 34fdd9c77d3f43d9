"""An accessibility check of what a page shows now: axe-core (bundled by
axe-playwright-python, no download) run in the page, and no serious or critical
violation allowed. Each violation is printed with the elements it names, so a failure
says what to fix."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SERIOUS = {"serious", "critical"}
_axe = Axe()


def assert_accessible(page: Page, view: str) -> None:
    """No serious or critical axe-core violation on the page as it is now (`view` names
    it in the failure)."""
    results = _axe.run(page)
    found = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in found
    ]
    assert not found, f"{view}: accessibility violations:\n" + "\n".join(lines)
