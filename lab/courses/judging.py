"""Judging a course check: the facts gathered on a guest -> a `CheckOutcome` (pure).

lab.courses.checking gathers facts (testinfra over the lab's admin path, or the probe
program on a machine of the lab) and hands them here; nothing here reaches a guest. Every
message says what was found, in a trainee's words, in Ukrainian and English: "Служба smbd
не працює (стан: inactive)." A check's `say` (the course author's words) replaces the text
of a failure; a passing check gets a short message of its own. A check that could not run
(the machine does not answer, sudo refused, a timeout) is a failure whose message says so
(`could_not_run`, `unreachable`); `say` does not hide that, it is not the trainee's fault.

Values that come from the guest (a service's state, a command's last line, a page's
beginning) are data: cut to `QUOTE_LIMIT` characters, control and invisible characters
(RTL marks...) escaped (`lab.profile.problems.clean`), template marks broken up (a `Text`
refuses them), and shown in quotes.
"""

from __future__ import annotations

import stat

from lab.base import Frozen
from lab.courses.model import (
    BaseCheck,
    CommandCheck,
    FileCheck,
    HttpCheck,
    PortCheck,
    ServiceCheck,
    ShareCheck,
    SqlCheck,
    Text,
    UserCheck,
)
from lab.courses.outcomes import CheckOutcome
from lab.profile.problems import clean

QUOTE_LIMIT = 80
_TEMPLATE_MARKS = ("{{", "{%", "{#")
# `systemctl is-enabled` exits 0 for these: the unit starts at boot (or needs no enabling).
_ENABLED = frozenset(
    {"enabled", "enabled-runtime", "static", "indirect", "generated", "transient", "alias"}
)
_ASK_TRAINER_UK = "попросіть тренера повернути робоче місце до початку завдання."
_ASK_TRAINER_EN = "ask the trainer to return your seat to the start of the task."


# -- facts: what was found on the guest ---------------------------------------------------


class FileFacts(Frozen):
    exists: bool
    directory: bool = False
    owner: str | None = None  # asked only when the check names an owner
    group: str | None = None  # asked when it names a group or group_writable
    mode: int | None = None  # permission bits, asked for group_writable
    contains: bool | None = None  # None: not asked (or it is a folder)
    unreadable: str | None = None  # grep could not read the file: what it said


class ServiceFacts(Frozen):
    """`systemctl show`'s words for the unit."""

    load: str  # LoadState: loaded, not-found, masked...
    active: str  # ActiveState: active, inactive, failed, activating...
    enabled: str = ""  # UnitFileState: enabled, disabled, static, masked...


class UserFacts(Frozen):
    exists: bool
    groups: tuple[str, ...] = ()


class CommandFacts(Frozen):
    """A command's (or a query's) exit code and output."""

    exit: int
    stdout: str
    stderr: str
    timed_out: bool = False
    seconds: float = 0.0  # the time it was given, when it timed out


class ProbeFacts(Frozen):
    """One answer of the probe program (lab.probes.remote.Answer), and where it was asked."""

    runner: str  # the machine that asked
    address: str  # the checked machine's address it asked
    answered: bool  # a connection, any HTTP response, the client ran
    error: str | None = None  # why not (the probe program's ERRORS)
    message: str = ""
    status: int | None = None  # HTTP
    body: str | None = None  # HTTP: the page's first 64 KiB
    exit: int | None = None  # smbclient's exit code
    entries: tuple[str, ...] = ()  # the share's top entries, as smbclient listed them
    timeout: float = 5.0


# -- words ----------------------------------------------------------------------------


def defuse(text: str) -> str:
    """`text` with template marks broken up (a `Text` refuses `{{`, `{%`, `{#`)."""
    for mark in _TEMPLATE_MARKS:
        while mark in text:
            text = text.replace(mark, mark[0] + " " + mark[1])
    return text


def shown(value: str, limit: int = QUOTE_LIMIT) -> str:
    """A value from a guest as a message may show it: printable, cut, no template marks."""
    return defuse(clean(value, limit))


def _q_uk(value: str) -> str:
    return f"«{shown(value)}»"


def _q_en(value: str) -> str:
    return f"“{shown(value)}”"


def _text(uk: str, en: str) -> Text:
    return Text(uk=defuse(uk), en=defuse(en))


def _outcome(check: BaseCheck, machine: str, ok: bool, uk: str, en: str) -> CheckOutcome:
    message = check.say if not ok and check.say is not None else _text(uk, en)
    return CheckOutcome(kind=check.kind, machine=machine, ok=ok, message=message)


def _plural_uk(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} {one}"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} {few}"
    return f"{n} {many}"


def _plural_en(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _last_line(*texts: str) -> str:
    for text in texts:
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-1].strip()
    return ""


def symbolic_mode(mode: int, directory: bool) -> str:
    """`0o750` -> `rwxr-x---`, as `ls -l` shows the rights (setuid, setgid, sticky too)."""
    return stat.filemode((stat.S_IFDIR if directory else stat.S_IFREG) | mode)[1:]


# -- what could not be checked --------------------------------------------------------


def unreachable(check: BaseCheck, machine: str, reached: str) -> CheckOutcome:
    """`reached` (the machine checked, or the one that asks) did not answer over SSH."""
    return _failed(
        check,
        machine,
        f"Не вдалося зв'язатися з машиною {reached}. Можливо, на ній вимкнено мережу чи SSH: "
        + _ASK_TRAINER_UK,
        f"Could not reach the machine {reached}. Its network or SSH may be off: " + _ASK_TRAINER_EN,
    )


def impostor(check: BaseCheck, machine: str, reached: str) -> CheckOutcome:
    """`reached` answered with another SSH host key than the one the lab gave it."""
    return _failed(
        check,
        machine,
        f"Машина {reached} відповіла не тим ключем SSH, який їй дала лабораторія: "
        + _ASK_TRAINER_UK,
        f"The machine {reached} answered with another SSH key than the lab gave it: "
        + _ASK_TRAINER_EN,
    )


def no_root(check: BaseCheck, machine: str, reached: str) -> CheckOutcome:
    """The lab's admin user may no longer act as root on `reached` (sudo refused)."""
    return _failed(
        check,
        machine,
        f"На машині {reached} лабораторія більше не може діяти як root (sudo відмовив): "
        + _ASK_TRAINER_UK,
        f"On the machine {reached} the lab can no longer act as root (sudo refused): "
        + _ASK_TRAINER_EN,
    )


def too_slow(check: BaseCheck, machine: str, seconds: float) -> CheckOutcome:
    return _failed(
        check,
        machine,
        f"Перевірка на машині {machine} не завершилася за {seconds:.0f} с.",
        f"The check on the machine {machine} did not finish within {seconds:.0f} s.",
    )


def could_not_run(
    check: BaseCheck, machine: str, uk: str, en: str, where: str | None = None
) -> CheckOutcome:
    """Any other reason the check of `machine` could not be made (`uk`, `en`: why, a
    sentence each), on `where` (the machine that asks; default `machine` itself)."""
    return _failed(
        check,
        machine,
        f"Не вдалося перевірити на машині {where or machine}: {uk}",
        f"Could not check on the machine {where or machine}: {en}",
    )


def _failed(check: BaseCheck, machine: str, uk: str, en: str) -> CheckOutcome:
    return CheckOutcome(kind=check.kind, machine=machine, ok=False, message=_text(uk, en))


# -- file -----------------------------------------------------------------------------


def judge_file(check: FileCheck, machine: str, facts: FileFacts) -> CheckOutcome:
    path = shown(check.file, 200)
    if not facts.exists:
        if not check.exists:
            return _outcome(
                check,
                machine,
                True,
                f"Немає {path}, як і треба.",
                f"There is no {path}, as required.",
            )
        uk, en = {
            "directory": (f"Папки {path} немає.", f"There is no folder {path}."),
            "file": (f"Файлу {path} немає.", f"There is no file {path}."),
            "any": (f"Немає ні файлу, ні папки {path}.", f"There is no file or folder {path}."),
        }[check.type]
        return _outcome(check, machine, False, uk, en)
    noun_uk, noun_en = ("Папка", "folder") if facts.directory else ("Файл", "file")
    if not check.exists:
        pronoun = "її" if facts.directory else "його"
        return _outcome(
            check,
            machine,
            False,
            f"{noun_uk} {path} є, а {pronoun} не має бути.",
            f"The {noun_en} {path} exists, but it should not.",
        )
    if check.type == "directory" and not facts.directory:
        return _outcome(
            check,
            machine,
            False,
            f"{path} — це файл, а не папка.",
            f"{path} is a file, not a folder.",
        )
    if check.type == "file" and facts.directory:
        return _outcome(
            check,
            machine,
            False,
            f"{path} — це папка, а не файл.",
            f"{path} is a folder, not a file.",
        )
    subject_uk, subject_en = f"{noun_uk} {path}", f"The {noun_en} {path}"
    said_uk, said_en = [], []
    if check.owner is not None:
        if facts.owner != check.owner:
            owner = shown(facts.owner or "?")
            return _outcome(
                check,
                machine,
                False,
                f"{subject_uk} належить користувачу {owner}, а не {check.owner}.",
                f"{subject_en} belongs to the user {owner}, not {check.owner}.",
            )
        said_uk.append(f"власник {check.owner}")
        said_en.append(f"owner {check.owner}")
    group = shown(facts.group or "?")
    if check.group is not None:
        if facts.group != check.group:
            return _outcome(
                check,
                machine,
                False,
                f"{subject_uk} належить групі {group}, а не {check.group}.",
                f"{subject_en} belongs to the group {group}, not {check.group}.",
            )
        if check.group_writable is None:
            said_uk.append(f"група {group}")
            said_en.append(f"group {group}")
    if check.group_writable is not None:
        mode = facts.mode or 0
        rights = symbolic_mode(mode, facts.directory)
        writable = bool(mode & 0o020)
        to_it_uk = "до неї" if facts.directory else "до нього"
        if writable != check.group_writable:
            if check.group_writable:
                return _outcome(
                    check,
                    machine,
                    False,
                    f"{subject_uk} існує, але група {group} не може {to_it_uk} записувати"
                    f" (права {rights}).",
                    f"{subject_en} exists, but the group {group} cannot write to it"
                    f" (mode {rights}).",
                )
            return _outcome(
                check,
                machine,
                False,
                f"Група {group} може записувати до {'папки' if facts.directory else 'файлу'}"
                f" {path} (права {rights}), а не має.",
                f"The group {group} can write to the {noun_en} {path} (mode {rights}),"
                " but it should not.",
            )
        said_uk.append(
            f"група {group} " + ("може записувати" if writable else "не може записувати")
        )
        said_en.append(
            f"the group {group} " + ("can write to it" if writable else "cannot write to it")
        )
    if check.contains is not None:
        text_uk, text_en = _q_uk(check.contains), _q_en(check.contains)
        if facts.directory:
            return _outcome(
                check,
                machine,
                False,
                f"{path} — це папка, а не файл: у ній немає тексту {text_uk}.",
                f"{path} is a folder, not a file: it holds no text {text_en}.",
            )
        if facts.unreadable is not None:
            return could_not_run(
                check,
                machine,
                f"файл {path} не читається ({_q_uk(facts.unreadable)}).",
                f"the file {path} cannot be read ({_q_en(facts.unreadable)}).",
            )
        if not facts.contains:
            return _outcome(
                check,
                machine,
                False,
                f"{subject_uk} є, але в ньому немає тексту {text_uk}.",
                f"{subject_en} exists, but it does not contain the text {text_en}.",
            )
        said_uk.append(f"у ньому є текст {text_uk}")
        said_en.append(f"it contains {text_en}")
    uk = f"{subject_uk} є" + "".join(f", {s}" for s in said_uk) + "."
    en = f"{subject_en} exists" + "".join(f", {s}" for s in said_en) + "."
    return _outcome(check, machine, True, uk, en)


# -- service --------------------------------------------------------------------------


def judge_service(check: ServiceCheck, machine: str, facts: ServiceFacts) -> CheckOutcome:
    name = check.service
    if facts.load == "not-found":
        return _outcome(
            check,
            machine,
            not check.active and not check.enabled,
            f"Служби {name} на машині {machine} немає.",
            f"There is no service {name} on the machine {machine}.",
        )
    running = facts.active == "active"
    state = shown(facts.active or "?")
    if check.active and not running:
        return _outcome(
            check,
            machine,
            False,
            f"Служба {name} не працює (стан: {state}).",
            f"The service {name} is not running (state: {state}).",
        )
    if not check.active and running:
        return _outcome(
            check,
            machine,
            False,
            f"Служба {name} працює, а не має.",
            f"The service {name} is running, but it should not be.",
        )
    runs_uk = "працює" if running else "не працює"
    runs_en = "is running" if running else "is not running"
    enabled = facts.enabled in _ENABLED
    if check.enabled is not None and enabled != check.enabled:
        at_boot = shown(facts.enabled or "?")
        if check.enabled:
            return _outcome(
                check,
                machine,
                False,
                f"Служба {name} {runs_uk}, але не вмикається під час запуску системи"
                f" (стан: {at_boot}).",
                f"The service {name} {runs_en}, but it is not enabled at boot (state: {at_boot}).",
            )
        return _outcome(
            check,
            machine,
            False,
            f"Служба {name} вмикається під час запуску системи (стан: {at_boot}), а не має.",
            f"The service {name} is enabled at boot (state: {at_boot}), but it should not be.",
        )
    uk, en = f"Служба {name} {runs_uk}", f"The service {name} {runs_en}"
    if check.enabled is not None:
        uk += " і вмикається під час запуску" if enabled else " і не вмикається під час запуску"
        en += " and enabled at boot" if enabled else " and not enabled at boot"
    return _outcome(check, machine, True, uk + ".", en + ".")


# -- user -----------------------------------------------------------------------------


def judge_user(check: UserCheck, machine: str, facts: UserFacts) -> CheckOutcome:
    name = check.user
    if not facts.exists:
        if not check.exists:
            return _outcome(
                check,
                machine,
                True,
                f"Користувача {name} немає, як і треба.",
                f"There is no user {name}, as required.",
            )
        return _outcome(
            check, machine, False, f"Користувача {name} немає.", f"There is no user {name}."
        )
    if not check.exists:
        return _outcome(
            check,
            machine,
            False,
            f"Користувач {name} є, а його не має бути.",
            f"The user {name} exists, but should not.",
        )
    missing = [g for g in check.groups if g not in facts.groups]
    if missing:
        listed = ", ".join(missing)
        groups_uk = "групи" if len(missing) == 1 else "груп"
        groups_en = "the group" if len(missing) == 1 else "the groups"
        return _outcome(
            check,
            machine,
            False,
            f"Користувач {name} є, але не входить до {groups_uk} {listed}.",
            f"The user {name} exists, but is not in {groups_en} {listed}.",
        )
    if not check.groups:
        return _outcome(check, machine, True, f"Користувач {name} є.", f"The user {name} exists.")
    listed = ", ".join(check.groups)
    groups_uk = "групи" if len(check.groups) == 1 else "груп"
    groups_en = "the group" if len(check.groups) == 1 else "the groups"
    return _outcome(
        check,
        machine,
        True,
        f"Користувач {name} є і входить до {groups_uk} {listed}.",
        f"The user {name} exists and is in {groups_en} {listed}.",
    )


# -- command and sql ------------------------------------------------------------------


def judge_command(check: CommandCheck, machine: str, facts: CommandFacts) -> CheckOutcome:
    if facts.timed_out:
        return _outcome(
            check,
            machine,
            False,
            f"Команда не завершилася за {facts.seconds:.0f} с.",
            f"The command did not finish within {facts.seconds:.0f} s.",
        )
    last = _last_line(facts.stderr, facts.stdout)
    if facts.exit != check.exit:
        said_uk = f": {_q_uk(last)}" if last else "."
        said_en = f": {_q_en(last)}" if last else "."
        return _outcome(
            check,
            machine,
            False,
            f"Команда завершилася з кодом {facts.exit} (очікували {check.exit}){said_uk}",
            f"The command exited with code {facts.exit} (expected {check.exit}){said_en}",
        )
    if check.output is not None:
        if check.output not in facts.stdout:
            printed = _last_line(facts.stdout)
            where_uk = (
                f" (останній рядок: {_q_uk(printed)})" if printed else " (вона нічого не вивела)"
            )
            where_en = f" (its last line: {_q_en(printed)})" if printed else " (it printed nothing)"
            return _outcome(
                check,
                machine,
                False,
                f"Команда завершилася з кодом {facts.exit}, але в її виводі немає тексту"
                f" {_q_uk(check.output)}{where_uk}.",
                f"The command exited with code {facts.exit}, but its output does not contain"
                f" {_q_en(check.output)}{where_en}.",
            )
        return _outcome(
            check,
            machine,
            True,
            f"Команда завершилася з кодом {facts.exit} і вивела {_q_uk(check.output)}.",
            f"The command exited with code {facts.exit} and printed {_q_en(check.output)}.",
        )
    return _outcome(
        check,
        machine,
        True,
        f"Команда завершилася з кодом {facts.exit}.",
        f"The command exited with code {facts.exit}.",
    )


def judge_sql(check: SqlCheck, machine: str, facts: CommandFacts) -> CheckOutcome:
    if facts.timed_out:
        return _outcome(
            check,
            machine,
            False,
            f"Запит не завершився за {facts.seconds:.0f} с.",
            f"The query did not finish within {facts.seconds:.0f} s.",
        )
    if facts.exit == 127:
        return could_not_run(
            check,
            machine,
            "на ній немає psql (клієнта PostgreSQL).",
            "it has no psql (the PostgreSQL client).",
        )
    if facts.exit != 0:
        why = _last_line(facts.stderr, facts.stdout)
        said_uk = f": {_q_uk(why)}" if why else "."
        said_en = f": {_q_en(why)}" if why else "."
        return _outcome(
            check, machine, False, f"Запит не виконався{said_uk}", f"The query failed{said_en}"
        )
    rows = [line for line in facts.stdout.splitlines() if line.strip()]
    if not rows:
        return _outcome(
            check, machine, False, "Запит не повернув жодного рядка.", "The query returned no row."
        )
    count_uk = _plural_uk(len(rows), "рядок", "рядки", "рядків")
    count_en = _plural_en(len(rows), "row")
    if check.returns is not None:
        if not any(check.returns in row for row in rows):
            return _outcome(
                check,
                machine,
                False,
                f"Запит повернув {count_uk}, але в жодному немає тексту {_q_uk(check.returns)}"
                f" (перший: {_q_uk(rows[0])}).",
                f"The query returned {count_en}, but none contains {_q_en(check.returns)}"
                f" (the first: {_q_en(rows[0])}).",
            )
        return _outcome(
            check,
            machine,
            True,
            f"Запит повернув {count_uk}, серед них {_q_uk(check.returns)}.",
            f"The query returned {count_en}, one with {_q_en(check.returns)}.",
        )
    return _outcome(
        check, machine, True, f"Запит повернув {count_uk}.", f"The query returned {count_en}."
    )


# -- asked from a machine of the lab --------------------------------------------------


def _why_uk(facts: ProbeFacts) -> str:
    match facts.error:
        case "refused":
            return "з'єднання відхилено: там нічого не слухає"
        case "timeout":
            return f"немає відповіді за {facts.timeout:g} с"
        case "unreachable":
            return "машина не відповідає в мережі"
        case "no-route":
            return "до неї немає маршруту"
        case "reset":
            return "з'єднання обірвалося"
        case "tls":
            return "не вдалося встановити з'єднання TLS"
        case "not-http":
            return "порт відповів, але не по HTTP"
        case _:
            return f"помилка {_q_uk(facts.message or facts.error or '?')}"


def _why_en(facts: ProbeFacts) -> str:
    match facts.error:
        case "refused":
            return "connection refused: nothing listens there"
        case "timeout":
            return f"no answer within {facts.timeout:g} s"
        case "unreachable":
            return "the machine does not answer on the network"
        case "no-route":
            return "there is no route to it"
        case "reset":
            return "the connection was cut"
        case "tls":
            return "the TLS handshake failed"
        case "not-http":
            return "the port answered, but not with HTTP"
        case _:
            return f"error {_q_en(facts.message or facts.error or '?')}"


def _probe_broken(check: BaseCheck, machine: str, facts: ProbeFacts) -> CheckOutcome | None:
    """The asking machine could not ask (no client, no raw socket): not the answer."""
    if facts.error == "no-client":
        client = shown(facts.message or "smbclient")
        return could_not_run(
            check,
            machine,
            f"на ній немає {client}, щоб запитати машину {machine}.",
            f"it has no {client} to ask the machine {machine}.",
            where=facts.runner,
        )
    if facts.error == "permission":
        return could_not_run(
            check,
            machine,
            "програма перевірки не має прав root.",
            "the checking program has no root rights.",
            where=facts.runner,
        )
    return None


def judge_port(check: PortCheck, machine: str, facts: ProbeFacts) -> CheckOutcome:
    if broken := _probe_broken(check, machine, facts):
        return broken
    where_uk, where_en = f"перевірено з {facts.runner}", f"checked from {facts.runner}"
    port_uk, port_en = (
        f"Порт {check.port} машини {machine}",
        f"Port {check.port} of machine {machine}",
    )
    if facts.answered:
        if check.open:
            return _outcome(
                check,
                machine,
                True,
                f"{port_uk} відповідає ({where_uk}).",
                f"{port_en} answers ({where_en}).",
            )
        return _outcome(
            check,
            machine,
            False,
            f"{port_uk} відкритий, а має бути закритий ({where_uk}).",
            f"{port_en} is open, but it should be closed ({where_en}).",
        )
    if not check.open and facts.error in ("refused", "timeout"):
        return _outcome(
            check,
            machine,
            True,
            f"{port_uk} закритий, як і треба ({where_uk}: {_why_uk(facts)}).",
            f"{port_en} is closed, as required ({where_en}: {_why_en(facts)}).",
        )
    return _outcome(
        check,
        machine,
        False,
        f"{port_uk} не відповідає ({where_uk}: {_why_uk(facts)}).",
        f"{port_en} does not answer ({where_en}: {_why_en(facts)}).",
    )


def page_url(check: HttpCheck, address: str) -> str:
    scheme = "https" if check.tls else "http"
    default = 443 if check.tls else 80
    port = "" if check.port in (None, default) else f":{check.port}"
    return f"{scheme}://{address}{port}{check.http}"


def judge_http(check: HttpCheck, machine: str, facts: ProbeFacts) -> CheckOutcome:
    if broken := _probe_broken(check, machine, facts):
        return broken
    url = shown(page_url(check, facts.address), 240)
    if not facts.answered:
        return _outcome(
            check,
            machine,
            False,
            f"Сторінка {url} не відповідає (перевірено з {facts.runner}: {_why_uk(facts)}).",
            f"The page {url} does not answer (checked from {facts.runner}: {_why_en(facts)}).",
        )
    if facts.status != check.status:
        return _outcome(
            check,
            machine,
            False,
            f"Сторінка {url} відповіла {facts.status} замість {check.status}.",
            f"The page {url} answered {facts.status} instead of {check.status}.",
        )
    if check.shows is None:
        return _outcome(
            check,
            machine,
            True,
            f"Сторінка {url} відповіла {facts.status}.",
            f"The page {url} answered {facts.status}.",
        )
    body = facts.body or ""
    if check.shows in body:
        return _outcome(
            check,
            machine,
            True,
            f"Сторінка {url} відповіла {facts.status} і показує {_q_uk(check.shows)}.",
            f"The page {url} answered {facts.status} and shows {_q_en(check.shows)}.",
        )
    begins = " ".join(body.split())
    begins_uk = f" (вона починається так: {_q_uk(begins)})" if begins else " (вона порожня)"
    begins_en = f" (it begins: {_q_en(begins)})" if begins else " (it is empty)"
    return _outcome(
        check,
        machine,
        False,
        f"Сторінка {url} відповіла {facts.status}, але на ній немає тексту"
        f" {_q_uk(check.shows)}{begins_uk}.",
        f"The page {url} answered {facts.status}, but it does not show"
        f" {_q_en(check.shows)}{begins_en}.",
    )


# What smbclient's NT_STATUS words mean for a trainee.
_SMB_STATUS = {
    "NT_STATUS_BAD_NETWORK_NAME": ("такої спільної папки немає", "there is no such share"),
    "NT_STATUS_ACCESS_DENIED": ("доступ заборонено", "access denied"),
    "NT_STATUS_LOGON_FAILURE": (
        "ім'я або пароль не прийнято",
        "the name or password was not accepted",
    ),
    "NT_STATUS_ACCOUNT_DISABLED": ("обліковий запис вимкнено", "the account is disabled"),
    "NT_STATUS_CONNECTION_REFUSED": ("служба SMB не відповідає", "the SMB service does not answer"),
    "NT_STATUS_IO_TIMEOUT": ("немає відповіді вчасно", "no answer in time"),
    "NT_STATUS_HOST_UNREACHABLE": (
        "машина не відповідає в мережі",
        "the machine does not answer on the network",
    ),
}


def judge_share(check: ShareCheck, machine: str, facts: ProbeFacts) -> CheckOutcome:
    if broken := _probe_broken(check, machine, facts):
        return broken
    share, who = check.share, check.account
    seen_uk = f"так її бачить {who} з {facts.runner}"
    seen_en = f"as {who} sees it from {facts.runner}"
    if not facts.answered:
        return _outcome(
            check,
            machine,
            False,
            f"Не вдалося відкрити спільну папку {share} машини {machine} ({seen_uk}:"
            f" {_why_uk(facts)}).",
            f"Could not open the share {share} of machine {machine} ({seen_en}: {_why_en(facts)}).",
        )
    if facts.exit != 0:
        status = next((s for s in _SMB_STATUS if s in facts.message), None)
        why_uk, why_en = (
            _SMB_STATUS[status] if status else (_q_uk(facts.message), _q_en(facts.message))
        )
        return _outcome(
            check,
            machine,
            False,
            f"Не вдалося відкрити спільну папку {share} машини {machine} ({seen_uk}: {why_uk}).",
            f"Could not open the share {share} of machine {machine} ({seen_en}: {why_en}).",
        )
    name_uk, name_en = _q_uk(check.holds), _q_en(check.holds)
    if check.holds in facts.entries:
        return _outcome(
            check,
            machine,
            True,
            f"У спільній папці {share} є {name_uk} ({seen_uk}).",
            f"The share {share} holds {name_en} ({seen_en}).",
        )
    return _outcome(
        check,
        machine,
        False,
        f"У спільній папці {share} немає {name_uk} ({seen_uk}).",
        f"The share {share} does not hold {name_en} ({seen_en}).",
    )
