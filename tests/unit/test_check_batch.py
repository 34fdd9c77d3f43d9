"""The quick checks of a restored machine run as one program through its guest agent
(lab.baselines.batch): here the very command line the agent gets runs in a real shell
on the host, as the current user, without the clock (setting the host's clock is not a
test's business), and each check's exit code and output come back as if run alone."""

from __future__ import annotations

import getpass
import os
import subprocess

import pytest

from lab.baselines import batch

TOKEN = "5f0c1e2d3a4b5c6d7e8f9a0b"


def run_batch(commands: list[str]) -> list[batch.Outcome]:
    argv = batch.argv(batch.script(commands, TOKEN), getpass.getuser(), None)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return batch.outcomes(done.stdout, len(commands), TOKEN)


@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv switches users as root only")
def test_each_check_reports_its_own_exit_code_and_exact_output() -> None:
    commands = [
        "echo active",
        "printf 'no newline'",
        "exit 3",  # ends its own subshell, not the batch
        "cat; echo read-nothing",  # stdin is empty, not the rest of the script
        "echo 'x B 0'; echo \"$0\" >&2; false",
        "printf 'two\\nlines\\n\\n'",
        "if then fi",  # a syntax error fails this check only
        'echo "$HOME" | grep -c /',  # the user's login environment
    ]
    found = run_batch(commands)
    assert [o.exit_code for o in found] == [0, 0, 3, 0, 1, 0, 2, 0]
    assert [o.stdout for o in found] == [
        "active\n",
        "no newline",
        "",
        "read-nothing\n",
        "x B 0\n",
        "two\nlines\n\n",
        "",
        "1\n",
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="setpriv switches users as root only")
def test_quotes_and_shell_words_in_a_check_stay_in_that_check() -> None:
    hostile = "echo \"it's\" '$(id -u)' `echo ok`; printf '%s' \"$HOME\" >/dev/null"
    found = run_batch([hostile, "echo after"])
    assert found[0].exit_code == 0
    assert found[0].stdout == "it's $(id -u) ok\n"
    assert found[1].stdout == "after\n"


def test_a_batch_cut_short_reports_the_missing_checks_as_failed() -> None:
    out = f"{TOKEN} B 0\nok\n\n{TOKEN} E 0 0\n{TOKEN} B 1\npartial"
    found = batch.outcomes(out, 3, TOKEN)
    assert found[0] == batch.Outcome(exit_code=0, stdout="ok\n")
    assert found[1] == batch.Outcome(exit_code=-1, stdout="partial")
    assert found[2] == batch.Outcome(exit_code=-1, stdout="")


def test_the_clock_and_user_are_arguments_never_part_of_the_script() -> None:
    body = batch.script(["true"], TOKEN)
    with_clock = batch.argv(body, "lab admin; reboot", 1733270400.25)
    without = batch.argv(body, "labadmin", None)
    assert with_clock[2].startswith('date -u -s "@$1"')
    assert with_clock[2].endswith(without[2])
    assert "reboot" not in with_clock[2] and "1733270400" not in with_clock[2]
    assert with_clock[4:] == ["1733270400.250", "lab admin; reboot", body]
