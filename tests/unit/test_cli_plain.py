"""Without a terminal the CLI prints plain text: no colour codes and no box-drawing
characters (tables are aligned columns), on stdout and stderr alike; NO_COLOR takes the
colour away even where a terminal is forced. And shell completion answers through the
console script's `main`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lab.settings import Settings
from tests.api.conftest import PROFILES, users_and_labs
from tests.cli_runs import ROOT, lab_env, run_lab

BOX = re.compile("[\u2500-\u257f]")
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9]m")  # a foreground colour, e.g. red: ESC[31m
LAB = ROOT / ".venv" / "bin" / "lab"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    made = Settings(
        home=tmp_path_factory.mktemp("plain") / "home",
        libvirt_uri="test:///default",
        profiles_dir=PROFILES,
        prefix="hlt-",
    )
    users_and_labs(made)  # labs, a class and users: tables with rows
    return made


COMMANDS = [
    ["list"],
    ["host", "list"],
    ["image", "list"],
    ["class", "list"],
    ["class", "status", "c1"],
    ["user", "list"],
    ["course", "list"],
    ["profile", "show", str(PROFILES / "recommended-stack.yaml")],
    ["status", "no-such-lab"],  # an error, with its hint
    ["--help"],
    ["image", "--help"],
    ["image", "nonsense"],  # a usage error
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_no_escape_codes_and_no_boxes_through_a_pipe(
    settings: Settings, command: list[str]
) -> None:
    done = run_lab(settings, *command)
    assert done.stdout or done.stderr
    for text in (done.stdout, done.stderr):
        assert "\x1b[" not in text
        assert not BOX.search(text), text


def test_a_table_is_aligned_columns(settings: Settings) -> None:
    done = run_lab(settings, "list")
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["lab", "profile", "host", "status", "machines", "template", "created"]
    assert len(rows) == 4 and all(row.index("tiny") == header.index("profile") for row in rows)


def test_no_color_even_on_a_forced_terminal(settings: Settings) -> None:
    """FORCE_COLOR draws as for a terminal (red errors, boxes); NO_COLOR drops the colour."""
    forced = run_lab(settings, "status", "no-such-lab", FORCE_COLOR="1")
    assert COLOUR.search(forced.stderr), forced.stderr  # so the check below can fail
    plain = run_lab(settings, "status", "no-such-lab", FORCE_COLOR="1", NO_COLOR="1")
    assert plain.returncode == 1 and "no-such-lab" in plain.stderr
    assert not COLOUR.search(plain.stderr), plain.stderr


def _complete(settings: Settings, words: str) -> list[str]:
    """What bash is offered for the last word of `words` (after a space: a new word)."""
    cword = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    env = lab_env(settings, _LAB_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword)
    done = subprocess.run(
        [LAB], env=env, capture_output=True, text=True, check=False, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(not LAB.exists(), reason="the console script is installed by `make setup`")
def test_completion_offers_commands_and_subcommands(settings: Settings) -> None:
    assert _complete(settings, "lab cla") == ["class"]
    assert "status" in _complete(settings, "lab class st")
    assert {"list", "show", "build", "rm"} <= set(_complete(settings, "lab image "))


@pytest.mark.skipif(not LAB.exists(), reason="the console script is installed by `make setup`")
def test_the_completion_script_is_shown_for_bash(settings: Settings, tmp_path: Path) -> None:
    done = subprocess.run(
        [LAB, "--show-completion", "bash"],
        env=lab_env(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0 and "_LAB_COMPLETE=complete_bash" in done.stdout, done.stderr
