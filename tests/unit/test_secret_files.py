"""Files that hold secrets are the service user's alone, from the moment they exist.

Each is made through the code path that makes it in a lab, under umask 000: a file that
comes out 0600 (or a directory 0700) then got its mode where it was created, not from the
process umask, and not from a chmod afterwards (a window in which others could open it).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.access.users import Role, UserStore
from lab.labs import keys, passwords, ssh_config
from lab.labs.plan import plan_lab
from lab.profile import load_profile
from lab.settings import Settings
from lab.software.stack import keep_log
from lab.store.state import StateStore

PROFILES = Path(__file__).parents[2] / "profiles"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modes must be right at creation: a chmod afterwards does nothing here."""
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)


def test_the_state_database_and_its_wal_are_0600_from_birth(tmp_path: Path, no_chmod: None) -> None:
    path = tmp_path / "state.db"
    store = StateStore(path)
    UserStore(store).add("olena", Role.TRAINER)
    reader = sqlite3.connect(path)  # an open connection keeps -wal and -shm in place
    try:
        reader.execute("SELECT COUNT(*) FROM users").fetchone()
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert mode(tmp_path / name) == 0o600, name
    finally:
        reader.close()


def test_an_older_world_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    StateStore(path)
    assert mode(path) == 0o600


def test_lab_keys_are_private(tmp_path: Path) -> None:
    pair = keys.ensure_keypair(tmp_path / "keys", comment="hromada-lab:demo")
    host = keys.host_keypair(tmp_path / "keys", "m1")
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / "hostkeys") == 0o700
    assert mode(pair.private) == 0o600 and mode(host.private) == 0o600
    assert not mode(pair.public) & 0o022  # public halves: nobody else may write them


def test_account_passwords_are_private_even_over_a_stale_temp_file(
    tmp_path: Path, no_chmod: None
) -> None:
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir(mode=0o700)
    stale = keys_dir / "passwords.tmp"
    stale.write_text("{}")
    os.chmod(stale, 0o666)  # left by a crash, with another mode (os.chmod: not patched)
    made = passwords.account_passwords(keys_dir, load_profile(PROFILES / "stack.yaml"))
    assert made
    assert mode(keys_dir / "passwords.json") == 0o600
    assert not stale.exists()


def test_a_new_keys_directory_is_0700(tmp_path: Path, no_chmod: None) -> None:
    passwords.account_passwords(tmp_path / "keys", load_profile(PROFILES / "stack.yaml"))
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / "passwords.json") == 0o600


def test_ssh_config_is_private(tmp_path: Path, no_chmod: None) -> None:
    plan = plan_lab(
        load_profile(PROFILES / "tiny.yaml"), "demo", "hl-", tmp_path, IPv4Network("10.250.0.0/24")
    )
    plan.directory.mkdir()
    assert mode(ssh_config.write(plan)) == 0o600


def test_kept_provisioning_logs_are_private(tmp_path: Path, no_chmod: None) -> None:
    settings = Settings(home=tmp_path / "home", libvirt_uri="test:///default")
    settings.home.mkdir()
    artifacts = tmp_path / "artifacts" / "run1"
    artifacts.mkdir(parents=True)
    (artifacts / "stdout").write_text("TASK [common : accounts] failed\n")
    kept = keep_log(settings, str(artifacts), "demo")
    assert kept is not None and kept.read_text() == "TASK [common : accounts] failed\n"
    assert mode(kept) == 0o600
    assert mode(kept.parent) == 0o700
