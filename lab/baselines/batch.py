"""The quick checks of a restored machine as one program for its guest agent.

Starting a program in an emulated guest costs about a tenth of a second (more just after
a restore, while the emulator translates its code afresh), and each call through the
agent adds a round trip: so a machine's clock is set and all its quick checks run in one
call, with as few programs as will do. As root, `date` sets the host's time; `setpriv`
(no PAM session, unlike `runuser`) becomes the management user with its login
environment; that shell runs each check in a subshell of its own (`eval`: an `exit` or a
syntax error ends only that check) with no input, between two marker lines carrying a
random token. The token keeps a check's own output from passing for a marker; each
check's output and exit code are read back between its markers.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from lab.base import Frozen

# The exit code of the batch when the clock could not be set (no check ran).
CLOCK_FAILED = 97
# Seconds the agent gives the batch per check before it counts as hung.
CHECK_TIMEOUT = 60


class Outcome(Frozen):
    """What one check of a batch did."""

    exit_code: int  # -1 when its end marker is missing (the batch was cut short)
    stdout: str


def script(commands: Sequence[str], token: str) -> str:
    """A POSIX shell script that runs each command in a subshell of its own with stdin
    from /dev/null, between marker lines (`printf` is the shell's own: no program)."""
    lines = []
    for i, command in enumerate(commands):
        lines.append(f"printf '%s B {i}\\n' {token}")
        lines.append(f"(eval {shlex.quote(command)}) </dev/null")
        lines.append(f"printf '\\n%s E {i} %d\\n' {token} $?")
    return "\n".join(lines) + "\n"


def argv(body: str, user: str, clock: float | None) -> list[str]:
    """The agent's command line: set the clock to `clock` (seconds since the epoch) as
    root when given, then run `body` as `user` (whose primary group has its name, as
    cloud-init makes it) with the user's login environment. Values are positional
    parameters of a fixed script, never spliced into it."""
    run_as = 'exec setpriv --reuid="$2" --regid="$2" --init-groups --reset-env /bin/sh -c "$3"'
    if clock is None:
        return ["/bin/sh", "-c", run_as, "sh", "", user, body]
    set_clock = f'date -u -s "@$1" >/dev/null || exit {CLOCK_FAILED}; '
    return ["/bin/sh", "-c", set_clock + run_as, "sh", f"{clock:.3f}", user, body]


def outcomes(stdout: str, count: int, token: str) -> list[Outcome]:
    """Each of `count` checks' exit code and output, read from the batch's stdout."""
    found = []
    for i in range(count):
        begin = f"{token} B {i}\n"
        start = stdout.find(begin)
        if start < 0:
            found.append(Outcome(exit_code=-1, stdout=""))
            continue
        start += len(begin)
        end_mark = f"\n{token} E {i} "
        end = stdout.find(end_mark, start)
        if end < 0:
            found.append(Outcome(exit_code=-1, stdout=stdout[start:]))
            continue
        code_text = stdout[end + len(end_mark) :].split("\n", 1)[0]
        code = int(code_text) if code_text.isdigit() else -1
        found.append(Outcome(exit_code=code, stdout=stdout[start:end]))
    return found
