"""Judging course checks (pure): every kind, passing and failing, in Ukrainian and English,
the course author's `say`, and values from a guest quoted safely."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from lab.courses import judging
from lab.courses.judging import CommandFacts, FileFacts, ProbeFacts, ServiceFacts, UserFacts
from lab.courses.model import CourseCheck, HttpCheck
from lab.courses.outcomes import CheckOutcome

_CHECK: TypeAdapter[Any] = TypeAdapter(CourseCheck)


def check(**data: Any) -> Any:
    return _CHECK.validate_python(data)


def said(outcome: CheckOutcome) -> tuple[str, str]:
    return outcome.message.get("uk"), outcome.message.get("en")


# -- file -----------------------------------------------------------------------------

SHARE_DIR = "/srv/shares/cnap/dovidky"


def test_a_folder_its_group_cannot_write_to_says_so_with_its_rights() -> None:
    c = check(file=SHARE_DIR, type="directory", group="smb-cnap", group_writable=True)
    facts = FileFacts(exists=True, directory=True, group="smb-cnap", mode=0o750)
    out = judging.judge_file(c, "file-srv", facts)
    assert not out.ok and out.kind == "file" and out.machine == "file-srv"
    assert said(out) == (
        f"Папка {SHARE_DIR} існує, але група smb-cnap не може до неї записувати (права rwxr-x---).",
        f"The folder {SHARE_DIR} exists, but the group smb-cnap cannot write to it"
        " (mode rwxr-x---).",
    )


def test_a_folder_its_group_can_write_to_passes_with_a_short_message() -> None:
    c = check(file=SHARE_DIR, type="directory", group="smb-cnap", group_writable=True)
    facts = FileFacts(exists=True, directory=True, group="smb-cnap", mode=0o2770)
    out = judging.judge_file(c, "file-srv", facts)
    assert out.ok
    assert said(out) == (
        f"Папка {SHARE_DIR} є, група smb-cnap може записувати.",
        f"The folder {SHARE_DIR} exists, the group smb-cnap can write to it.",
    )


@pytest.mark.parametrize(
    ("kind", "uk", "en"),
    [
        ("directory", "Папки /srv/x немає.", "There is no folder /srv/x."),
        ("file", "Файлу /srv/x немає.", "There is no file /srv/x."),
        ("any", "Немає ні файлу, ні папки /srv/x.", "There is no file or folder /srv/x."),
    ],
)
def test_a_missing_file_or_folder(kind: str, uk: str, en: str) -> None:
    out = judging.judge_file(check(file="/srv/x", type=kind), "m", FileFacts(exists=False))
    assert not out.ok and said(out) == (uk, en)


def test_absent_as_asked_passes_and_present_fails() -> None:
    c = check(file="/tmp/virus", exists=False)
    assert judging.judge_file(c, "m", FileFacts(exists=False)).ok
    out = judging.judge_file(c, "m", FileFacts(exists=True))
    assert not out.ok and said(out) == (
        "Файл /tmp/virus є, а його не має бути.",
        "The file /tmp/virus exists, but it should not.",
    )


def test_the_wrong_type_owner_and_group_are_named() -> None:
    out = judging.judge_file(check(file="/srv/x", type="directory"), "m", FileFacts(exists=True))
    assert said(out) == ("/srv/x — це файл, а не папка.", "/srv/x is a file, not a folder.")
    out = judging.judge_file(
        check(file="/srv/x", owner="olena"), "m", FileFacts(exists=True, owner="root")
    )
    assert said(out) == (
        "Файл /srv/x належить користувачу root, а не olena.",
        "The file /srv/x belongs to the user root, not olena.",
    )
    out = judging.judge_file(
        check(file="/srv/x", group="staff"),
        "m",
        FileFacts(exists=True, directory=True, group="root"),
    )
    assert said(out) == (
        "Папка /srv/x належить групі root, а не staff.",
        "The folder /srv/x belongs to the group root, not staff.",
    )


def test_a_group_that_may_write_but_should_not() -> None:
    c = check(file="/srv/x", group_writable=False)
    out = judging.judge_file(c, "m", FileFacts(exists=True, group="staff", mode=0o664))
    assert not out.ok
    assert said(out) == (
        "Група staff може записувати до файлу /srv/x (права rw-rw-r--), а не має.",
        "The group staff can write to the file /srv/x (mode rw-rw-r--), but it should not.",
    )


def test_a_file_without_its_text() -> None:
    c = check(file="/home/olena/zvit.txt", contains="Звіт за березень")
    out = judging.judge_file(c, "m", FileFacts(exists=True, contains=False))
    assert not out.ok and said(out) == (
        "Файл /home/olena/zvit.txt є, але в ньому немає тексту «Звіт за березень».",
        "The file /home/olena/zvit.txt exists, but it does not contain the text"
        " “Звіт за березень”.",
    )
    ok = judging.judge_file(c, "m", FileFacts(exists=True, contains=True, owner="olena"))
    assert (
        ok.ok and said(ok)[0] == "Файл /home/olena/zvit.txt є, у ньому є текст «Звіт за березень»."
    )


def test_an_unreadable_file_is_a_check_that_could_not_run() -> None:
    c = check(file="/srv/x", contains="a")
    out = judging.judge_file(c, "m", FileFacts(exists=True, unreadable="grep: /srv/x: I/O error"))
    assert not out.ok and "не читається" in said(out)[0] and "cannot be read" in said(out)[1]


# -- service and user -----------------------------------------------------------------


def test_a_service_that_is_not_running_names_its_state() -> None:
    out = judging.judge_service(
        check(service="smbd"), "file-srv", ServiceFacts(load="loaded", active="inactive")
    )
    assert not out.ok and said(out) == (
        "Служба smbd не працює (стан: inactive).",
        "The service smbd is not running (state: inactive).",
    )


def test_a_service_enabled_or_not_at_boot() -> None:
    c = check(service="smbd", enabled=True)
    out = judging.judge_service(
        c, "m", ServiceFacts(load="loaded", active="active", enabled="disabled")
    )
    assert said(out) == (
        "Служба smbd працює, але не вмикається під час запуску системи (стан: disabled).",
        "The service smbd is running, but it is not enabled at boot (state: disabled).",
    )
    out = judging.judge_service(
        c, "m", ServiceFacts(load="loaded", active="active", enabled="enabled")
    )
    assert out.ok and said(out) == (
        "Служба smbd працює і вмикається під час запуску.",
        "The service smbd is running and enabled at boot.",
    )


def test_a_missing_service_and_one_that_should_be_stopped() -> None:
    out = judging.judge_service(
        check(service="nginx"), "web", ServiceFacts(load="not-found", active="inactive")
    )
    assert not out.ok and said(out)[0] == "Служби nginx на машині web немає."
    stop = check(service="telnet", active=False)
    out = judging.judge_service(stop, "m", ServiceFacts(load="loaded", active="active"))
    assert not out.ok and said(out)[1] == "The service telnet is running, but it should not be."
    assert judging.judge_service(stop, "m", ServiceFacts(load="loaded", active="failed")).ok


def test_a_user_outside_a_group() -> None:
    c = check(user="olena", groups=["staff"])
    out = judging.judge_user(c, "m", UserFacts(exists=True, groups=("olena",)))
    assert not out.ok and said(out) == (
        "Користувач olena є, але не входить до групи staff.",
        "The user olena exists, but is not in the group staff.",
    )
    ok = judging.judge_user(c, "m", UserFacts(exists=True, groups=("olena", "staff")))
    assert ok.ok and said(ok)[0] == "Користувач olena є і входить до групи staff."
    gone = judging.judge_user(c, "m", UserFacts(exists=False))
    assert said(gone) == ("Користувача olena немає.", "There is no user olena.")
    assert judging.judge_user(check(user="ivan", exists=False), "m", UserFacts(exists=False)).ok


# -- command and sql ------------------------------------------------------------------


def test_a_command_with_the_wrong_exit_code_quotes_its_last_line() -> None:
    c = check(command="nginx -t")
    facts = CommandFacts(
        exit=1, stdout="", stderr='nginx: [emerg] unexpected "}"\nnginx: test failed\n'
    )
    out = judging.judge_command(c, "web", facts)
    assert not out.ok and said(out) == (
        "Команда завершилася з кодом 1 (очікували 0): «nginx: test failed»",
        "The command exited with code 1 (expected 0): “nginx: test failed”",
    )


def test_a_command_output_and_its_time() -> None:
    c = check(command="hostname", output="web-01")
    out = judging.judge_command(c, "m", CommandFacts(exit=0, stdout="web\n", stderr=""))
    assert not out.ok and "останній рядок: «web»" in said(out)[0]
    assert judging.judge_command(c, "m", CommandFacts(exit=0, stdout="web-01\n", stderr="")).ok
    slow = judging.judge_command(
        c, "m", CommandFacts(exit=124, stdout="", stderr="", timed_out=True, seconds=20)
    )
    assert said(slow) == (
        "Команда не завершилася за 20 с.",
        "The command did not finish within 20 s.",
    )


def test_sql_rows_none_and_errors() -> None:
    c = check(sql="select name from staff", database="registry", returns="Олена")
    none = judging.judge_sql(c, "db", CommandFacts(exit=0, stdout="\n", stderr=""))
    assert said(none) == ("Запит не повернув жодного рядка.", "The query returned no row.")
    two = judging.judge_sql(c, "db", CommandFacts(exit=0, stdout="Іван\nПетро\n", stderr=""))
    assert (
        said(two)[0]
        == "Запит повернув 2 рядки, але в жодному немає тексту «Олена» (перший: «Іван»)."
    )
    ok = judging.judge_sql(c, "db", CommandFacts(exit=0, stdout="Олена\n", stderr=""))
    assert ok.ok and said(ok)[1] == "The query returned 1 row, one with “Олена”."
    bad = judging.judge_sql(
        c,
        "db",
        CommandFacts(exit=2, stdout="", stderr='psql: error: database "registry" does not exist'),
    )
    assert not bad.ok and said(bad)[0].startswith("Запит не виконався: «psql: error")
    missing = judging.judge_sql(c, "db", CommandFacts(exit=127, stdout="", stderr="not found"))
    assert "немає psql" in said(missing)[0]


# -- asked from a machine of the lab --------------------------------------------------


def probe(**fields: Any) -> ProbeFacts:
    return ProbeFacts(**{"runner": "cnap-ws", "address": "10.40.0.5", "answered": True} | fields)


def test_a_port_that_does_not_answer_names_who_asked() -> None:
    out = judging.judge_port(check(port=445), "file-srv", probe(answered=False, error="refused"))
    assert not out.ok and said(out) == (
        "Порт 445 машини file-srv не відповідає (перевірено з cnap-ws: з'єднання відхилено:"
        " там нічого не слухає).",
        "Port 445 of machine file-srv does not answer (checked from cnap-ws: connection"
        " refused: nothing listens there).",
    )
    assert judging.judge_port(check(port=445), "file-srv", probe()).ok
    closed = check(port=23, open=False)
    assert judging.judge_port(closed, "m", probe(answered=False, error="timeout")).ok
    assert not judging.judge_port(closed, "m", probe()).ok
    assert not judging.judge_port(closed, "m", probe(answered=False, error="unreachable")).ok


def test_a_page_with_the_wrong_status_or_without_its_text() -> None:
    out = judging.judge_http(check(http="/x"), "web", probe(status=404, body="Not Found"))
    assert said(out) == (
        "Сторінка http://10.40.0.5/x відповіла 404 замість 200.",
        "The page http://10.40.0.5/x answered 404 instead of 200.",
    )
    # (`http` and `port` keys together make the kind ambiguous in a course file, so the
    # model is made directly here.)
    c = HttpCheck(http="/", port=8443, tls=True, shows="Громада")
    out = judging.judge_http(c, "web", probe(status=200, body="<h1>Welcome</h1>"))
    assert said(out)[0] == (
        "Сторінка https://10.40.0.5:8443/ відповіла 200, але на ній немає тексту «Громада»"
        " (вона починається так: «<h1>Welcome</h1>»)."
    )
    assert judging.judge_http(c, "web", probe(status=200, body="Громада Ромашки")).ok
    down = judging.judge_http(
        c, "web", probe(answered=False, error="tls", message="WRONG_VERSION_NUMBER")
    )
    assert "TLS" in said(down)[0] and "TLS" in said(down)[1]


def test_a_share_that_does_not_hold_the_file() -> None:
    c = check(share="cnap", holds="zvit.odt", account="operator", machine="file-srv")
    out = judging.judge_share(c, "file-srv", probe(exit=0, entries=("inshe.odt",)))
    assert not out.ok and said(out) == (
        "У спільній папці cnap немає «zvit.odt» (так її бачить operator з cnap-ws).",
        "The share cnap does not hold “zvit.odt” (as operator sees it from cnap-ws).",
    )
    assert judging.judge_share(c, "file-srv", probe(exit=0, entries=("zvit.odt",))).ok
    denied = judging.judge_share(
        c, "file-srv", probe(exit=1, message="tree connect failed: NT_STATUS_ACCESS_DENIED")
    )
    assert "доступ заборонено" in said(denied)[0] and "access denied" in said(denied)[1]
    no_client = judging.judge_share(
        c, "file-srv", probe(answered=False, error="no-client", message="smbclient")
    )
    assert no_client.machine == "file-srv"
    assert said(no_client)[0] == (
        "Не вдалося перевірити на машині cnap-ws: на ній немає smbclient, щоб запитати"
        " машину file-srv."
    )


# -- what could not run, `say`, hostile values ----------------------------------------


def test_the_words_for_a_machine_that_does_not_answer() -> None:
    out = judging.unreachable(check(service="smbd"), "file-srv", "file-srv")
    assert not out.ok and said(out)[0] == (
        "Не вдалося зв'язатися з машиною file-srv. Можливо, на ній вимкнено мережу чи SSH:"
        " попросіть тренера повернути робоче місце до початку завдання."
    )
    assert "ask the trainer" in said(out)[1]
    assert "sudo" in said(judging.no_root(check(service="smbd"), "m", "m"))[0]
    assert "20 с" in said(judging.too_slow(check(service="smbd"), "m", 20))[0]


def test_say_replaces_a_failure_but_not_a_pass() -> None:
    c = check(service="smbd", say={"uk": "Запустіть Samba.", "en": "Start Samba."})
    out = judging.judge_service(c, "m", ServiceFacts(load="loaded", active="inactive"))
    assert said(out) == ("Запустіть Samba.", "Start Samba.")
    ok = judging.judge_service(c, "m", ServiceFacts(load="loaded", active="active"))
    assert said(ok)[0] == "Служба smbd працює."
    only_uk = check(user="olena", say="Створіть користувачку olena.")
    out = judging.judge_user(only_uk, "m", UserFacts(exists=False))
    assert said(out) == ("Створіть користувачку olena.", "Створіть користувачку olena.")


HOSTILE = [
    "line one\nline two\x1b[31m red",
    "\u202eevil\u200f mark",
    "x" * 5000,
    "{{ lookup('pipe', 'id') }} {% raw %} {# c",
    "\x00nul\x7f",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_values_from_the_guest_are_quoted_short_printable_and_inert(value: str) -> None:
    outcomes = [
        judging.judge_service(
            check(service="smbd"), "m", ServiceFacts(load="loaded", active=value)
        ),
        judging.judge_command(
            check(command="x"), "m", CommandFacts(exit=3, stdout="", stderr=value)
        ),
        judging.judge_http(check(http="/", shows="a"), "m", probe(status=200, body=value)),
        judging.judge_sql(
            check(sql="select 1", database="d", returns="a"),
            "m",
            CommandFacts(exit=0, stdout=value, stderr=""),
        ),
        judging.judge_user(
            check(user="olena", groups=["staff"]), "m", UserFacts(exists=True, groups=(value,))
        ),
        judging.judge_file(
            check(file="/f", owner="olena"), "m", FileFacts(exists=True, owner=value)
        ),
        judging.judge_share(
            check(share="s", holds="a", account="o"), "m", probe(exit=1, message=value)
        ),
    ]
    for out in outcomes:
        for text in said(out):
            assert text.isprintable(), text
            assert len(text) < 400
            assert "{{" not in text and "{%" not in text and "{#" not in text
            assert "\u202e" not in text and "\x1b" not in text


def test_every_kind_has_a_judge() -> None:
    kinds = {
        "file": judging.judge_file(check(file="/f"), "m", FileFacts(exists=True)),
        "service": judging.judge_service(
            check(service="s"), "m", ServiceFacts(load="loaded", active="active")
        ),
        "user": judging.judge_user(check(user="u"), "m", UserFacts(exists=True)),
        "port": judging.judge_port(check(port=1), "m", probe()),
        "http": judging.judge_http(check(http="/"), "m", probe(status=200)),
        "command": judging.judge_command(
            check(command="true"), "m", CommandFacts(exit=0, stdout="", stderr="")
        ),
        "sql": judging.judge_sql(
            check(sql="select 1", database="d"), "m", CommandFacts(exit=0, stdout="1", stderr="")
        ),
        "share": judging.judge_share(
            check(share="s", holds="a", account="o"), "m", probe(exit=0, entries=("a",))
        ),
    }
    for kind, out in kinds.items():
        assert out.ok and out.kind == kind, (kind, out)


def test_symbolic_rights_are_those_of_ls() -> None:
    assert judging.symbolic_mode(0o750, True) == "rwxr-x---"
    assert judging.symbolic_mode(0o2770, True) == "rwxrws---"
    assert judging.symbolic_mode(0o1777, True) == "rwxrwxrwt"
    assert judging.symbolic_mode(0o644, False) == "rw-r--r--"
