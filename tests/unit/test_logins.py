"""Password hashes, generated passwords, console tickets and the VNC endpoint of a
domain's live XML (pure functions, no libvirt); and `lab user passwd`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.tickets import Tickets
from lab.access.logins import LoginStore, hash_password, new_password, verify_password
from lab.access.users import Role, UserStore
from lab.cli import users as users_cli
from lab.driver.domain_xml import vnc_endpoint
from lab.errors import InvalidError
from lab.settings import get_settings


def test_a_password_hash_is_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", first)
    assert not verify_password("correct hors", first)
    assert not verify_password("correct horse", "garbage")
    assert not verify_password("correct horse", "pbkdf2$1$2$3$4$5")


def test_generated_passwords_read_well_and_differ() -> None:
    made = {new_password() for _ in range(50)}
    assert len(made) == 50
    assert all(re.fullmatch(r"[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){2}", p) for p in made)


def test_a_ticket_is_single_use_bound_and_expires() -> None:
    clock = [0.0]
    tickets = Tickets(ttl=30, clock=lambda: clock[0])
    ticket = tickets.issue("ann", "c1-01", "m1", "serial")
    assert tickets.redeem(ticket, "c1-01", "m1", "serial") is not None
    assert tickets.redeem(ticket, "c1-01", "m1", "serial") is None  # used
    other = tickets.issue("ann", "c1-01", "m1", "serial")
    assert tickets.redeem(other, "c1-02", "m1", "serial") is None  # another console
    assert tickets.redeem(other, "c1-01", "m1", "serial") is None  # used up by that try
    late = tickets.issue("ann", "c1-01", "m1", "vnc")
    clock[0] = 30.5
    assert tickets.redeem(late, "c1-01", "m1", "vnc") is None


def test_the_vnc_endpoint_of_a_running_domain() -> None:
    running = """<domain><devices><graphics type='vnc' port='5901' autoport='yes'
        listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
        </devices></domain>"""
    assert vnc_endpoint(running) == ("127.0.0.1", 5901)
    stopped = running.replace("5901", "-1")
    assert vnc_endpoint(stopped) is None
    assert vnc_endpoint("<domain><devices/></domain>") is None


def test_lab_user_passwd_sets_a_password_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        app = typer.Typer(pretty_exceptions_enable=False)
        users_cli.register(app)
        store = LoginStore(UserStore.open(get_settings()).state)
        store.users.add("olena", Role.TRAINER)
        runner = CliRunner()
        piped = runner.invoke(
            app, ["user", "passwd", "olena", "--password-stdin"], input="first-password\n"
        )
        assert piped.exit_code == 0, piped.output
        assert store.login("olena", "first-password") is not None
        typed = runner.invoke(app, ["user", "passwd", "olena"], input="second-pass\nsecond-pass\n")
        assert typed.exit_code == 0, typed.output
        assert store.login("olena", "first-password") is None
        assert store.login("olena", "second-pass") is not None
        assert "first-password" not in piped.output and "second-pass" not in typed.output
        short = runner.invoke(app, ["user", "passwd", "olena", "--password-stdin"], input="x\n")
        assert isinstance(short.exception, InvalidError)
    finally:
        get_settings.cache_clear()
