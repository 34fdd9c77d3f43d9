"""Server paths out of what the API says: `/var/lib/hromada-lab/labs/t9/uploads/x.yml`
becomes `LAB_HOME/labs/t9/uploads/x.yml`.

Messages of the use cases name files, which is what an engineer at the host wants
(the CLI shows them as they are). Over the API they reach testers and trainees, to
whom the layout of the server is none of their business and a help to an attacker:
every error answer and every operation's events, error, hint and result pass through
here. The setting's name stands in for each directory, so an engineer reading an
answer still knows where to look.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from lab.settings import Settings


@lru_cache(maxsize=16)
def path_redactor(settings: Settings) -> Callable[[str], str]:
    """A function that replaces the settings' directories in a text by their names."""
    roots = [
        (settings.home, "LAB_HOME"),
        (settings.profiles_dir, "LAB_PROFILES_DIR"),
        (settings.playbooks_dir, "LAB_PLAYBOOKS_DIR"),
        (settings.recipes_dir, "LAB_RECIPES_DIR"),
    ]
    pairs: list[tuple[str, str]] = []
    for root, name in roots:
        for form in {str(root), os.path.realpath(root), str(Path(root).absolute())}:
            if form not in ("", "/"):
                pairs.append((form.rstrip("/"), name))
    # Longest first: a directory inside another (the catalogue inside LAB_HOME) keeps its
    # own name.
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)

    def redact(text: str) -> str:
        for root, name in pairs:
            if root in text:
                text = text.replace(root, name)
        return text

    return redact


def redact_value(value: Any, redact: Callable[[str], str]) -> Any:
    """`redact` applied to every string in JSON-like data (dicts, lists, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [redact_value(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v, redact) for k, v in value.items()}
    return value
