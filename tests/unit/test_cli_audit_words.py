"""What the audit log calls a CLI command: its words, whether it acts, its target (from
the parameters click parses, so an option's value is never taken for a name)."""

from __future__ import annotations

import pytest

from lab.cli import _register, app
from lab.cli.audit import command_words, is_action, parameters, target


@pytest.fixture(scope="module", autouse=True)
def commands() -> None:
    if not app.registered_groups:
        _register()


@pytest.mark.parametrize(
    ("argv", "words", "acts", "on"),
    [
        (["down", "demo"], ("down",), True, "lab/demo"),
        (["reset", "--class", "c1"], ("reset",), True, "class/c1"),
        (["reset", "--class=c1", "--cold"], ("reset",), True, "class/c1"),
        (["baseline", "s-01"], ("baseline",), True, "lab/s-01"),
        (["up", "profiles/tiny.yaml", "--name", "t1"], ("up",), True, "lab/t1"),
        (["up", "profiles/tiny.yaml"], ("up",), True, ""),
        (["class", "create", "p.yaml", "--name", "c1"], ("class", "create"), True, "class/c1"),
        (["up", "--template", "t", "--name", "t1"], ("up",), True, "lab/t1"),
        (["template", "create", "demo", "--name", "t"], ("template", "create"), True, "template/t"),
        (["template", "delete", "t"], ("template", "delete"), True, "template/t"),
        (["template", "list"], ("template", "list"), False, ""),
        (["template", "show", "t"], ("template", "show"), False, "template/t"),
        (["user", "add", "olena", "trainer"], ("user", "add"), True, "user/olena"),
        (["token", "create", "olena"], ("token", "create"), True, "user/olena"),
        (["image", "rm", "old"], ("image", "rm"), True, "image/old"),
        (["apply", "--machine", "srv", "st1", "p.yml"], ("apply",), True, "lab/st1"),
        (["checkpoint", "s-01", "after-task-1"], ("checkpoint",), True, "lab/s-01"),
        (["checkpoint", "s-01", "--list"], ("checkpoint",), False, "lab/s-01"),
        (["class", "checkpoint", "c1", "t2"], ("class", "checkpoint"), True, "class/c1"),
        (["class", "reset", "c1", "--to", "t2"], ("class", "reset"), True, "class/c1"),
        (["list"], ("list",), False, ""),
        (["class", "status", "c1"], ("class", "status"), False, "class/c1"),
        (["host", "check"], ("host", "check"), False, ""),
        (["down", "--help"], ("down",), False, ""),
        (["--version"], (), False, ""),
        ([], (), False, ""),
        (["class"], (), False, ""),
        (["no-such-command", "x"], ("no-such-command",), True, ""),
    ],
)
def test_words_action_and_target(
    argv: list[str], words: tuple[str, ...], acts: bool, on: str
) -> None:
    assert command_words(argv) == words
    assert is_action(argv) is acts
    assert target(words, parameters(argv)) == on
