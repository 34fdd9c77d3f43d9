"""Checking a seat's course tasks from the host side: `check_task` and `check_tasks`.

A round takes the checks of one or more tasks of one seat (a lab) and places each one:

- file, service, user, command and sql checks run on the machine they are about, through
  testinfra over the lab's admin path (lab.courses.testinfra_backend), as root;
- port, http and share checks are asked from a machine of the lab (the check's `from`,
  else another managed machine on a network the checked one is on, the checked machine
  itself only when there is none): the probe program of lab.probes, all of that machine's
  probes at once in one command (the lab's networks are segments the host is not on).

The round opens one session per machine (lab.courses.sessions: kept warm between rounds)
and reuses it for every check of every task; machines are checked in parallel, at most
`MACHINES_AT_ONCE`. Facts gathered are judged by lab.courses.judging (pure). Nothing here
raises for a guest: a machine that does not answer, a check that cannot run or runs out
of time (`CHECK_SECONDS` each, `ROUND_SECONDS` a round) is a failed `CheckOutcome` saying
so. What a trainee wrote in the guest only ever comes back as data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paramiko
import testinfra.host
from pydantic import ValidationError

from lab.courses import judging
from lab.courses.judging import CommandFacts, FileFacts, ProbeFacts, ServiceFacts, UserFacts
from lab.courses.model import (
    BaseCheck,
    CommandCheck,
    Course,
    FileCheck,
    FromCheck,
    HttpCheck,
    PortCheck,
    ServiceCheck,
    ShareCheck,
    SqlCheck,
    Task,
    UserCheck,
)
from lab.courses.outcomes import CheckOutcome, TaskOutcome
from lab.courses.sessions import POOL, Session, SessionPool, SudoRefusedError
from lab.courses.testinfra_backend import CheckTimeoutError
from lab.errors import LabError
from lab.labs import deployment, guest, passwords
from lab.labs.guest import GuestUnreachableError, HostKeyMismatchError
from lab.labs.plan import LabPlan, MachinePlan
from lab.labs.records import LabRecord, LabStatus
from lab.probes import remote
from lab.probes.model import ProbeKind, ProbeSpec
from lab.profile.problems import clean
from lab.settings import Settings

CHECK_SECONDS = 20.0  # one check on a machine, all its commands
ROUND_SECONDS = 90.0  # one round, on any one machine
PROBE_SECONDS = 5.0  # one probe (a port, a page, a share) from a machine of the lab
MACHINES_AT_ONCE = 4
_PROBE_MARGIN = 10.0  # the probe command's own start and the SSH channel
_PROBE_OUTPUT = 512 * 1024  # bytes of the probe program's answer, per probe (a page, escaped)

_Where = tuple[int, int]  # (task, check) positions
_log = logging.getLogger(__name__)
# What a check may still raise past the cases judged (a guest answering what testinfra does
# not expect, a connection failing in an unforeseen way): a failed check, not a failed round.
_UNFORESEEN = (
    LabError,
    OSError,
    EOFError,
    paramiko.SSHException,
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    RuntimeError,
    TypeError,
    ValueError,
)


@dataclass
class _Job:
    where: _Where
    check: BaseCheck
    machine: str  # the machine the check is about
    runs_on: str  # the machine whose session it needs
    spec: ProbeSpec | None = None  # asked from `runs_on` by the probe program
    address: str = ""


@dataclass
class _Round:
    started: float = field(default_factory=time.monotonic)
    outcomes: dict[_Where, tuple[CheckOutcome, float]] = field(default_factory=dict)

    def done(self, where: _Where, outcome: CheckOutcome) -> None:
        self.outcomes[where] = (outcome, time.monotonic())


def check_task(settings: Settings, record: LabRecord, course: Course, task: Task) -> TaskOutcome:
    """Check one task of the seat `record` (its checks only; see `check_tasks`)."""
    return check_tasks(settings, record, course, (task,))[0]


def check_tasks(
    settings: Settings,
    record: LabRecord,
    course: Course,
    tasks: Sequence[Task],
    pool: SessionPool = POOL,
) -> tuple[TaskOutcome, ...]:
    """One round: every check of `tasks` (of `course`) on the seat `record`, one outcome
    per task in the order given. Never raises for what a guest does or does not do.
    `pool`: where sessions are kept between rounds (a test or a bench may give its own)."""
    at = datetime.now(UTC)
    state = _Round()
    jobs = _place(record, tasks, state)
    groups: dict[str, list[_Job]] = {}
    for job in jobs:
        groups.setdefault(job.runs_on, []).append(job)
    if groups:
        deadline = state.started + ROUND_SECONDS
        with ThreadPoolExecutor(max_workers=min(MACHINES_AT_ONCE, len(groups))) as workers:
            for future in [
                workers.submit(_run_machine, record, name, group, state, pool, deadline)
                for name, group in groups.items()
            ]:
                future.result()
    outcomes = []
    for t, task in enumerate(tasks):
        checks = [
            state.outcomes.get((t, c)) or (_late(check, task.machine_of(check)), time.monotonic())
            for c, check in enumerate(task.checks)
        ]
        last = max((ended for _, ended in checks), default=state.started)
        outcomes.append(
            TaskOutcome(
                task=task.id,
                ok=all(o.ok for o, _ in checks),
                checks=tuple(o for o, _ in checks),
                at=at,
                seconds=round(last - state.started, 3),
            )
        )
    return tuple(outcomes)


# -- where each check runs ------------------------------------------------------------


def _place(record: LabRecord, tasks: Sequence[Task], state: _Round) -> list[_Job]:
    plan = record.plan
    jobs: list[_Job] = []
    known: dict[str, str] | None = None
    for t, task in enumerate(tasks):
        for c, check in enumerate(task.checks):
            machine = task.machine_of(check)
            if record.status is not LabStatus.RUNNING:
                state.done(
                    (t, c),
                    judging.could_not_run(
                        check,
                        machine,
                        f"робоче місце {record.name} не працює (стан: {record.status.value}):"
                        " попросіть тренера його запустити.",
                        f"the seat {record.name} is not running (state: {record.status.value}):"
                        " ask the trainer to start it.",
                    ),
                )
                continue
            try:
                target = plan.machine(machine)
                if isinstance(check, FromCheck):
                    if isinstance(check, ShareCheck) and known is None:
                        known = passwords.known_passwords(plan.keys_dir)
                    jobs.append(_probe_job((t, c), plan, target, check, known or {}))
                elif not target.managed:
                    raise _Unplaceable(
                        "це готова машина громади: лабораторія не заходить на неї, тож таку"
                        " перевірку на ній не зробити.",
                        "it is a community's own machine: the lab does not log into it, so"
                        " this check cannot be made there.",
                    )
                else:
                    jobs.append(_Job((t, c), check, machine, runs_on=machine))
            except _Unplaceable as exc:
                state.done((t, c), judging.could_not_run(check, machine, exc.uk, exc.en))
            except (LabError, ValidationError) as exc:
                why = clean(getattr(exc, "message", None) or str(exc).splitlines()[0], 160)
                state.done(
                    (t, c),
                    judging.could_not_run(
                        check,
                        machine,
                        f"курс не пасує до цього робочого місця ({why}).",
                        f"the course does not fit this seat ({why}).",
                    ),
                )
    return jobs


class _Unplaceable(Exception):
    def __init__(self, uk: str, en: str) -> None:
        super().__init__(en)
        self.uk, self.en = uk, en


def _probe_job(
    where: _Where, plan: LabPlan, target: MachinePlan, check: FromCheck, known: dict[str, str]
) -> _Job:
    runner, nic = _runner(plan, target, check.from_)
    address = target.nics[nic].address
    fields: dict[str, object] = {
        "machine": target.name,
        "address": address,
        "timeout": PROBE_SECONDS,
    }
    if isinstance(check, PortCheck):
        fields |= {"kind": ProbeKind.TCP, "port": check.port}
    elif isinstance(check, HttpCheck):
        fields |= {
            "kind": ProbeKind.HTTPS if check.tls else ProbeKind.HTTP,
            "port": check.port,
            "path": check.http,
            "expect_status": check.status,
        }
    elif isinstance(check, ShareCheck):
        password = known.get(check.account)
        if password is None:
            raise _Unplaceable(
                f"у цієї лабораторії немає облікового запису {check.account}.",
                f"this lab has no account {check.account}.",
            )
        fields |= {
            "kind": ProbeKind.SMB,
            "share": check.share,
            "user": check.account,
            "password": password,
        }
    spec = ProbeSpec.model_validate(fields)
    return _Job(where, check, target.name, runner.name, spec, str(address))


def _runner(plan: LabPlan, target: MachinePlan, preferred: str | None) -> tuple[MachinePlan, int]:
    """The managed machine that asks, and the index of `target`'s NIC it asks on."""
    if preferred is not None:
        runner = plan.machine(preferred)
        networks = {n.network for n in runner.nics}
        for index, nic in enumerate(target.nics):
            if runner.managed and nic.network in networks:
                return runner, index
        raise _Unplaceable(
            f"машина {preferred} не може запитати машину {target.name}: у них немає спільної"
            " мережі (або це не машина лабораторії).",
            f"the machine {preferred} cannot ask the machine {target.name}: they share no"
            " network (or it is not the lab's own machine).",
        )
    for index, nic in enumerate(target.nics):
        for other in plan.managed_machines:
            if other.name != target.name and any(n.network == nic.network for n in other.nics):
                return other, index
    for index in range(len(target.nics)):
        try:
            return plan.probe_runner(target, index), index
        except LabError:
            continue
    raise _Unplaceable(
        f"жодна машина лабораторії не може запитати машину {target.name} по мережі.",
        f"no machine of the lab can ask the machine {target.name} over the network.",
    )


# -- one machine's share of the round -------------------------------------------------

_Dead = Callable[[BaseCheck, str], CheckOutcome]


def _run_machine(
    record: LabRecord,
    name: str,
    jobs: list[_Job],
    state: _Round,
    pool: SessionPool,
    deadline: float,
) -> None:
    session: Session | None = None
    dead: _Dead | None = None

    def take() -> Session | None:
        nonlocal dead
        try:
            addr = deployment.admin_address(record.plan, record.plan.machine(name))
            return pool.take(record.name, name, addr)
        except HostKeyMismatchError:
            dead = lambda check, machine: judging.impostor(check, machine, name)  # noqa: E731
        except GuestUnreachableError:
            dead = lambda check, machine: judging.unreachable(check, machine, name)  # noqa: E731
        except SudoRefusedError:
            dead = lambda check, machine: judging.no_root(check, machine, name)  # noqa: E731
        except LabError as exc:
            why = clean(exc.message, 160)
            dead = lambda check, machine: judging.could_not_run(  # noqa: E731
                check, machine, f"{why}.", f"{why}.", where=name
            )
        return None

    try:
        local = [job for job in jobs if job.spec is None]
        probes = [job for job in jobs if job.spec is not None]
        for job in local:
            if dead is None and session is None and deadline - time.monotonic() > 1:
                session = take()
            left = deadline - time.monotonic()
            if dead is not None or session is None or left <= 1:
                state.done(job.where, (dead or _late)(job.check, job.machine))
                continue
            budget = min(CHECK_SECONDS, left)
            session.backend.bound(budget)
            try:
                outcome = _check_on(session.host, job, budget)
            except CheckTimeoutError:
                outcome = judging.too_slow(job.check, job.machine, budget)
                session.close()
                session = None
            except GuestUnreachableError:
                outcome = (
                    judging.too_slow(job.check, job.machine, budget)
                    if time.monotonic() >= session.backend.deadline
                    else judging.unreachable(job.check, job.machine, name)
                )
                session.close()
                session = None
            except _UNFORESEEN as exc:  # a round never raises for one check: say it, go on
                outcome = _broken(job, exc)
                session.close()
                session = None
            state.done(job.where, outcome)
        if probes:
            if dead is None and session is None:
                session = take()
            if dead is not None or session is None:
                for job in probes:
                    state.done(job.where, (dead or _late)(job.check, job.machine))
            else:
                try:
                    for job, outcome in _ask(session, probes):
                        state.done(job.where, outcome)
                except GuestUnreachableError:
                    session.close()
                    session = None
                    for job in probes:
                        state.done(job.where, judging.unreachable(job.check, job.machine, name))
                except _UNFORESEEN as exc:
                    session.close()
                    session = None
                    for job in probes:
                        state.done(job.where, _broken(job, exc))
    finally:
        if session is not None:
            pool.give_back(session)


def _broken(job: _Job, exc: Exception) -> CheckOutcome:
    """A check that failed in a way nothing above foresaw: logged (its type only: what a
    guest said stays out of the log), and a failed check in words."""
    _log.warning(
        "course check %s of %s failed: %s", job.check.kind, job.machine, type(exc).__name__
    )
    return judging.could_not_run(
        job.check,
        job.machine,
        "перевірка несподівано не вдалася; спробуйте ще раз або покличте тренера.",
        "the check failed unexpectedly; try again or call the trainer.",
    )


def _late(check: BaseCheck, machine: str) -> CheckOutcome:
    return judging.could_not_run(
        check,
        machine,
        f"на перевірки вже пішло {ROUND_SECONDS:.0f} с, цю не встигли зробити.",
        f"the round already took {ROUND_SECONDS:.0f} s; this check was not reached.",
    )


def _check_on(host: testinfra.host.Host, job: _Job, budget: float) -> CheckOutcome:
    """Gather the facts a check needs with testinfra, and judge them."""
    check, machine = job.check, job.machine
    try:
        match check:
            case FileCheck():
                return judging.judge_file(check, machine, _file_facts(host, check))
            case ServiceCheck():
                if check.service.startswith("-"):
                    raise _Unplaceable(
                        f"{check.service!r} не схоже на назву служби.",
                        f"{check.service!r} does not look like a service name.",
                    )
                props = host.service(check.service).systemd_properties
                state = ServiceFacts(
                    load=props.get("LoadState", ""),
                    active=props.get("ActiveState", ""),
                    enabled=props.get("UnitFileState", ""),
                )
                return judging.judge_service(check, machine, state)
            case UserCheck():
                user = host.user(check.user)
                exists = bool(user.exists)
                groups = tuple(user.groups) if exists and check.groups else ()
                return judging.judge_user(check, machine, UserFacts(exists=exists, groups=groups))
            case CommandCheck():
                return judging.judge_command(check, machine, _ran(host, budget, check.command))
            case SqlCheck():
                ran = _ran(
                    host,
                    budget,
                    "runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1 -d %s -c %s",
                    check.database,
                    check.sql,
                )
                return judging.judge_sql(check, machine, ran)
    except _Unplaceable as exc:
        return judging.could_not_run(check, machine, exc.uk, exc.en)
    except (AssertionError, RuntimeError, ValueError, KeyError, IndexError):
        # testinfra's check_output asserts its command succeeded: the guest answered
        # something other than what the check reads (the thing changed under it).
        return judging.could_not_run(
            check,
            machine,
            "команда перевірки завершилася з помилкою; спробуйте ще раз.",
            "a command of the check failed; try again.",
        )
    raise AssertionError(f"no way to check a {check.kind} check on a machine")


def _file_facts(host: testinfra.host.Host, check: FileCheck) -> FileFacts:
    file = host.file(check.file)
    if not file.exists:
        return FileFacts(exists=False)
    directory = bool(file.is_directory)
    owner = file.user if check.owner is not None else None
    wants_group = check.group is not None or check.group_writable is not None
    group = file.group if wants_group else None
    mode = file.mode if check.group_writable is not None else None
    contains, unreadable = None, None
    if check.contains is not None and not directory:
        found = host.run("grep -F -q -- %s %s", check.contains, check.file)
        if found.rc in (0, 1):
            contains = found.rc == 0
        else:
            unreadable = (found.stderr.strip().splitlines() or [f"exit {found.rc}"])[-1]
    return FileFacts(
        exists=True,
        directory=directory,
        owner=owner,
        group=group,
        mode=mode,
        contains=contains,
        unreadable=unreadable,
    )


def _ran(host: testinfra.host.Host, budget: float, command: str, *args: str) -> CommandFacts:
    try:
        result = host.run(command, *args)
    except CheckTimeoutError:
        return CommandFacts(exit=124, stdout="", stderr="", timed_out=True, seconds=budget)
    return CommandFacts(exit=result.rc, stdout=result.stdout, stderr=result.stderr)


# -- asked from a machine of the lab --------------------------------------------------


def _ask(session: Session, jobs: list[_Job]) -> list[tuple[_Job, CheckOutcome]]:
    specs = [job.spec for job in jobs if job.spec is not None]
    result = guest.run_on(
        session.client,
        session.addr,
        remote.probe_command(specs),
        timeout=PROBE_SECONDS + _PROBE_MARGIN,
        limit=_PROBE_OUTPUT * (len(specs) + 1),
    )
    try:
        if result.exit_code != 0:
            said = (result.stderr.strip().splitlines() or [f"exit {result.exit_code}"])[-1]
            raise ValueError(said)
        answers = remote.read_answers(result.stdout, len(specs))
    except ValueError as exc:
        why = judging.shown(str(exc))
        return [
            (
                job,
                judging.could_not_run(
                    job.check,
                    job.machine,
                    f"програма перевірки не спрацювала («{why}»).",
                    f"the checking program failed (“{why}”).",
                    where=session.machine,
                ),
            )
            for job in jobs
        ]
    judged = []
    for job, answer in zip(jobs, answers, strict=True):
        facts = ProbeFacts(
            runner=session.machine,
            address=job.address,
            answered=answer.ok,
            error=answer.error,
            message=answer.message,
            status=answer.status,
            body=answer.body,
            exit=answer.exit,
            entries=remote.smb_entries(answer.output or ""),
            timeout=PROBE_SECONDS,
        )
        match job.check:
            case PortCheck():
                judged.append((job, judging.judge_port(job.check, job.machine, facts)))
            case HttpCheck():
                judged.append((job, judging.judge_http(job.check, job.machine, facts)))
            case ShareCheck():
                judged.append((job, judging.judge_share(job.check, job.machine, facts)))
    return judged
