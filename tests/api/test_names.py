"""Names in paths: every route, as an admin (whom no role check stops), with names that
are not a lab's: an answer below 500, nothing made or removed on disk, and the name
quoted short and escaped in the answer."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lab.settings import Settings
from tests.api.test_auth import _routes

Headers = dict[str, dict[str, str]]
# As they go on the wire: '..', a line break and U+202E, a long name.
BAD = ["%2E%2E", "a%0Ab%E2%80%AEc", "x" * 3000, "%2E"]


def _tree(root: Path) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            # the state, and the software catalogue's cache (any read of it writes one)
            if not entry.startswith(("state.db", "operations", "cache", "catalogue-")):
                found.add(str((Path(dirpath) / entry).relative_to(root)))
    return found


@pytest.mark.parametrize("name", BAD)
def test_bad_names_in_paths(
    name: str,
    app: FastAPI,
    client: TestClient,
    headers: Headers,
    settings: Settings,
    tmp_path: Path,
) -> None:
    before = _tree(tmp_path)
    for method, path in _routes(app):
        if "{" not in path or method not in ("GET", "POST", "DELETE"):
            continue
        url = re.sub(r"\{[^}]+\}", name, path)
        answer = client.request(method, url, headers=headers["admin"])
        assert answer.status_code < 500, (method, path, answer.text)
        assert len(answer.content) < 2000, (method, path)
        said = answer.json()["error"] + answer.json()["hint"]
        assert "\n" not in said and "\u202e" not in said, (method, path, said)
    assert _tree(tmp_path) == before
