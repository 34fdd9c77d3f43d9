"""The one gate through which the orchestrator runs external commands.

Commands are always argument lists (never a shell string), so no value from a
profile or a request can change a command line's structure. Failures become
`CommandError` with the command's own last words and a hint.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab.errors import CommandError, HostError, InvalidError

_TAIL_LINES = 20


def which(program: str, package: str) -> str:
    """Absolute path of `program`, or a HostError naming the Debian package to install."""
    path = shutil.which(program)
    if path is None:
        raise HostError(
            f"{program} is not installed",
            hint=f"install it: apt-get install {package} (or run `make setup`)",
        )
    return path


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float | None = None,
    hint: str = "",
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to completion, capturing its output; raise CommandError on failure."""
    proc = complete(argv, cwd=cwd, env=env, input=input, timeout=timeout, hint=hint)
    args = _args(argv)
    if proc.returncode != 0:
        raise CommandError(
            f"`{_show(args)}` failed with exit code {proc.returncode}:\n{tail(proc.stderr)}",
            hint=hint,
        )
    return proc


def stream(
    argv: Sequence[str | Path], on_output: Callable[[bytes], None], *, hint: str = ""
) -> None:
    """Run a command, handing its standard output to `on_output` as it comes (a progress
    meter); raise CommandError on failure, with the last words of its standard error."""
    args = _args(argv)
    try:
        proc = subprocess.Popen(  # an argv list, never a shell
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as exc:
        raise HostError(f"{args[0]} is not installed", hint=hint or "run `make setup`") from exc
    assert proc.stdout is not None and proc.stderr is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        errors = pool.submit(proc.stderr.read)  # drained beside, so neither pipe fills up
        while chunk := os.read(proc.stdout.fileno(), 4096):
            on_output(chunk)
        stderr = errors.result()
    if proc.wait() != 0:
        raise CommandError(
            f"`{_show(args)}` failed with exit code {proc.returncode}:\n{tail(stderr)}",
            hint=hint,
        )


def complete(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    timeout: float | None = None,
    hint: str = "",
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to completion and return it whatever its exit code (for commands
    whose exit code is a verdict, like pytest's); a missing program or a timeout is a
    LabError all the same."""
    args = _args(argv)
    try:
        return subprocess.run(  # an argv list, never a shell
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise HostError(f"{args[0]} is not installed", hint=hint or "run `make setup`") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(
            f"`{_show(args)}` did not finish within {timeout:.0f} s", hint=hint
        ) from exc


def _args(argv: Sequence[str | Path]) -> list[str]:
    """The arguments as text; a NUL byte, which no argument can carry (the kernel would
    cut it there), is refused rather than left to subprocess's ValueError."""
    args = [str(a) for a in argv]
    for arg in args:
        if "\0" in arg:
            raise InvalidError(
                f"an argument of `{_show(args[:1])}` contains a NUL byte: {arg[:60]!r}",
                hint="remove the NUL (\\0) from the value in the profile, recipe or request",
            )
    return args


def tail(output: bytes, lines: int = _TAIL_LINES) -> str:
    """The last lines of a command's output, decoded leniently."""
    text = output.decode("utf-8", errors="replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])


def _show(args: Sequence[str]) -> str:
    return shlex.join(args)


def interactive(argv: Sequence[str | Path], *, hint: str = "") -> int:
    """Run a command attached to the user's terminal; return its exit code."""
    args = _args(argv)
    try:
        return subprocess.call(args)  # an argv list, never a shell
    except FileNotFoundError as exc:
        raise HostError(f"{args[0]} is not installed", hint=hint or "run `make setup`") from exc


def process_alive(pid: int) -> bool:
    """Whether process `pid` still exists (also when it is someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
