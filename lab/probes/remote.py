"""TCP, ICMP, HTTP(S), SMB, LDAP and SQL probes run from a managed machine of the lab.

The lab's networks are layer-2 segments the host has no address on, so the probes run on
a machine of the lab: one fixed program (`PROGRAM`, the source of `_probe_program.py`)
given its probes as a JSON argument. The command line is built by `probe_command` (pure,
every piece quoted: nothing from a profile reaches the shell as code), what comes back is
judged by `parse_output` (pure: statuses and expected text are compared here, not in the
guest). SMB, LDAP and SQL probes run the machine's client; the probe's password travels
inside that same JSON argument and is never part of a result or an error.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from importlib import resources

from pydantic import ValidationError

from lab.base import Frozen
from lab.errors import InvalidError, quote
from lab.labs import guest
from lab.labs.guest import GuestAddress
from lab.probes.model import CLIENT_KINDS, ProbeKind, ProbeResult, ProbeSpec

PROGRAM = resources.files("lab.probes").joinpath("_probe_program.py").read_text(encoding="utf-8")

# One command line holds them all; an argument may be 128 KiB, the JSON of a probe < 300 bytes.
PROBES_LIMIT = 100
_SNIPPET = 60  # characters of a page quoted when the expected text is missing
# OpenSSL's reasons when what came back was not TLS at all (plain HTTP, most often).
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
_CLIENT = {ProbeKind.SMB: "smbclient", ProbeKind.LDAP: "ldapwhoami", ProbeKind.SQL: "psql"}
_PACKAGE = {"smbclient": "smbclient", "ldapwhoami": "ldap-utils", "psql": "postgresql-client"}
# A line of `smbclient -c ls`: two spaces, the name, attributes, size, a date.
_SMB_ENTRY = re.compile(r"^  (?P<name>\S.*?)\s+[A-Za-z]*\s+\d+\s+\w{3} \w{3} +\d+ ")


class Answer(Frozen):
    """One answer of the probe program (see its docstring): what the guest said, not yet
    judged (lab.courses.judging judges it in a trainee's words, `parse_output` in a
    trainer's)."""

    ok: bool
    error: str | None
    message: str
    status: int | None
    body: str | None
    exit: int | None = None  # SMB, LDAP, SQL: the client's exit code
    output: str | None = None  # and the first 64 KiB of what it printed


class _Output(Frozen):
    answers: tuple[Answer, ...]


def probe_command(specs: Sequence[ProbeSpec]) -> str:
    """The shell command that runs `specs` on a managed machine (the admin user's sudo)."""
    if not specs or len(specs) > PROBES_LIMIT:
        raise InvalidError(
            f"{len(specs)} probes for one machine to run: between 1 and {PROBES_LIMIT} can be",
        )
    probes = [_wire(spec) for spec in specs]
    payload = json.dumps(probes, separators=(",", ":"), ensure_ascii=True)
    return shlex.join(["sudo", "-n", "python3", "-c", PROGRAM, payload])


def _wire(spec: ProbeSpec) -> dict[str, object]:
    if spec.kind is ProbeKind.AGENT:
        raise InvalidError(
            f"the guest agent of {quote(spec.machine)} is probed from the host, not from a machine",
            hint="use lab.probes.agent.agent_probe",
        )
    probe: dict[str, object] = {
        "kind": spec.kind.value,
        "address": str(spec.address),
        "timeout": spec.timeout,
    }
    if spec.port is not None:
        probe["port"] = spec.port
    if spec.kind in (ProbeKind.HTTP, ProbeKind.HTTPS):
        probe["path"] = spec.path
    if spec.kind in CLIENT_KINDS:
        for name in ("user", "password", "share", "database", "query"):
            value = getattr(spec, name)
            if value is not None:
                probe[name] = value
    return probe


def parse_output(stdout: str, specs: Sequence[ProbeSpec]) -> tuple[ProbeResult, ...]:
    """Judge the program's output: one result per spec, in order. Output that is not the
    program's answer (it failed, or something else printed) fails every probe."""
    try:
        answers = read_answers(stdout, len(specs))
    except ValueError as exc:
        return program_failed(specs, str(exc))
    return tuple(_judge(spec, a) for spec, a in zip(specs, answers, strict=True))


def read_answers(stdout: str, count: int) -> tuple[Answer, ...]:
    """The program's `count` answers, in the order asked; ValueError saying why when its
    output is not that (it failed, or something else printed)."""
    lines = stdout.strip().splitlines()
    try:
        output = _Output.model_validate_json(lines[-1] if lines else "")
    except ValidationError:
        raise ValueError(_first_line(stdout) or "it printed nothing") from None
    if len(output.answers) != count:
        raise ValueError(f"it answered {len(output.answers)} probes of {count} asked")
    return output.answers


def smb_entries(output: str) -> tuple[str, ...]:
    """The names `smbclient -c ls` listed at a share's top (without `.` and `..`)."""
    found = (m["name"].strip() for line in output.splitlines() if (m := _SMB_ENTRY.match(line)))
    return tuple(name for name in found if name not in (".", ".."))


def program_failed(specs: Sequence[ProbeSpec], why: str) -> tuple[ProbeResult, ...]:
    """Every probe failed, because the probe program did (`why`: what it said)."""
    detail = f"the probe program on the checking machine failed: {quote(why, 120)}"
    return tuple(ProbeResult(spec=spec, ok=False, detail=detail) for spec in specs)


def run_probes(
    addr: GuestAddress, specs: Sequence[ProbeSpec], timeout: float
) -> tuple[ProbeResult, ...]:
    """Run `specs` from the managed machine at `addr`; `timeout` bounds the whole SSH
    command (at least the longest probe's timeout, plus a margin for the connection).

    The results fail or pass the probed machines; a checking machine that cannot be
    reached is an error (`GuestUnreachableError`), not a failed probe.
    """
    if not specs:
        return ()
    result = guest.run(addr, probe_command(specs), timeout=timeout)
    if result.exit_code != 0:
        said = _last_line(result.stderr) or _first_line(result.stdout)
        return program_failed(specs, f"exit {result.exit_code}: {said or 'no message'}")
    return parse_output(result.stdout, specs)


def _judge(spec: ProbeSpec, answer: Answer) -> ProbeResult:
    if not answer.ok:
        return ProbeResult(spec=spec, ok=False, detail=_failure(spec, answer))
    if spec.kind in CLIENT_KINDS:
        return _judge_client(spec, answer)
    if spec.kind in (ProbeKind.TCP, ProbeKind.ICMP):
        said = "answered a ping" if spec.kind is ProbeKind.ICMP else f"port {spec.port} is open"
        return ProbeResult(spec=spec, ok=True, detail=said)
    if answer.status != spec.expect_status:
        detail = f"HTTP {answer.status} (expected {spec.expect_status})"
        return ProbeResult(spec=spec, ok=False, detail=detail)
    if spec.expect_text is None:
        return ProbeResult(spec=spec, ok=True, detail=f"answered HTTP {answer.status}")
    body = answer.body or ""
    if spec.expect_text in body:
        detail = f"answered HTTP {answer.status} and the page contains {quote(spec.expect_text)}"
        return ProbeResult(spec=spec, ok=True, detail=detail)
    begins = " ".join(body.split())
    detail = f"HTTP {answer.status}, but the page does not contain {quote(spec.expect_text)}" + (
        f" (it begins: {quote(begins, _SNIPPET)})" if begins else " (the page is empty)"
    )
    return ProbeResult(spec=spec, ok=False, detail=detail)


def _judge_client(spec: ProbeSpec, answer: Answer) -> ProbeResult:
    client, output = _CLIENT[spec.kind], answer.output or ""
    said = answer.message or f"exit {answer.exit}"
    if answer.exit != 0:
        return ProbeResult(spec=spec, ok=False, detail=_refused(spec, said))
    if spec.expect_text is not None:
        if spec.expect_text in output:
            detail = f"{client} succeeded and its output contains {quote(spec.expect_text)}"
            return ProbeResult(spec=spec, ok=True, detail=detail)
        begins = " ".join(output.split())
        detail = f"{client} succeeded, but its output does not contain"
        detail += f" {quote(spec.expect_text)}" + (
            f" (it begins: {quote(begins, _SNIPPET)})" if begins else " (it printed nothing)"
        )
        return ProbeResult(spec=spec, ok=False, detail=detail)
    lines = [line for line in output.splitlines() if line.strip()]
    match spec.kind:
        case ProbeKind.SMB if spec.share:
            count = len(smb_entries(output))
            detail = f"the share //{spec.address}/{spec.share} holds {_count(count, 'entry')}"
        case ProbeKind.SMB:
            count = sum(1 for line in lines if line.startswith("Disk|"))
            detail = f"listed {_count(count, 'share')} on //{spec.address}"
        case ProbeKind.LDAP:
            whoami = lines[0].strip() if lines else "anonymous"
            who = f"as {spec.user}" if spec.user else "anonymous"
            detail = f"LDAP bind {who} accepted (the server says: {quote(whoami, _SNIPPET)})"
        case _:
            if not lines:
                return ProbeResult(spec=spec, ok=False, detail="the query returned no row")
            detail = f"the query returned {_count(len(lines), 'row')}"
            detail += f" (the first: {quote(lines[0], _SNIPPET)})"
    return ProbeResult(spec=spec, ok=True, detail=detail)


def _refused(spec: ProbeSpec, said: str) -> str:
    said = said[:120]
    match spec.kind:
        case ProbeKind.SMB:
            where = f"//{spec.address}" + (f"/{spec.share}" if spec.share else "")
            who = f" as {spec.user}" if spec.user else " anonymously"
            return f"smbclient could not list {where}{who}: {said}"
        case ProbeKind.LDAP:
            who = f"as {spec.user}" if spec.user else "anonymous"
            return f"LDAP bind {who} refused: {said}"
        case _:
            return f"the query failed: {said}"


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _failure(spec: ProbeSpec, answer: Answer) -> str:
    message = answer.message
    match answer.error:
        case "no-client":
            client = message or _CLIENT.get(spec.kind, "client")
            package = _PACKAGE.get(client, client)
            return (
                f"the checking machine has no {client} (install {package} there, e.g. give"
                " it the workstation role)"
            )
        case "refused":
            return f"connection refused: nothing listens on port {spec.port}"
        case "timeout":
            return f"no answer within {spec.timeout:g} s"
        case "unreachable":
            return (
                f"host unreachable: nothing on the network answers for {spec.address}"
                " (is the machine running, with this address?)"
            )
        case "no-route":
            return f"no route from the checking machine to {spec.address}"
        case "reset":
            return "the connection was cut (reset) before an answer"
        case "tls" if message in _NOT_TLS:
            return "the TLS handshake failed: the port does not speak TLS (plain HTTP?)"
        case "tls":
            return f"the TLS handshake failed ({quote(message)}): does the port speak HTTPS?"
        case "not-http":
            return f"the port answered, but not with HTTP ({quote(message)})"
        case "permission":
            return f"the probe program may not send pings ({quote(message)}): it needs root"
        case _:
            return f"the probe failed: {quote(message or 'no reason given', 120)}"


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""
