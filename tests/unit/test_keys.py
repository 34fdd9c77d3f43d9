from pathlib import Path

import paramiko
import pytest

from lab.errors import InvalidError
from lab.labs import keys


def test_keypair_is_private_and_reused(tmp_path: Path) -> None:
    first = keys.ensure_keypair(tmp_path / "keys", comment="hromada-lab:demo")
    assert first.public_text.startswith("ssh-ed25519 ")
    assert first.public_text.endswith(" hromada-lab:demo")
    assert first.private.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert "OPENSSH PRIVATE KEY" in first.private.read_text()
    private_before = first.private.read_bytes()
    again = keys.ensure_keypair(tmp_path / "keys", comment="other")
    assert again == first
    assert again.private.read_bytes() == private_before
    # No scratch directories left behind by the generation.
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        ".lock",
        "id_ed25519",
        "id_ed25519.pub",
    ]


def test_the_key_is_one_paramiko_and_openssh_agree_on(tmp_path: Path) -> None:
    pair = keys.ensure_keypair(tmp_path, comment="c")
    loaded = paramiko.Ed25519Key.from_private_key_file(str(pair.private))
    assert pair.public_text.split()[1] == loaded.get_base64()


def test_reuse_repairs_modes_and_a_lost_public_half(tmp_path: Path) -> None:
    first = keys.ensure_keypair(tmp_path / "k", comment="c")
    first.private.chmod(0o644)
    (tmp_path / "k").chmod(0o755)
    first.public.unlink()
    again = keys.ensure_keypair(tmp_path / "k", comment="c")
    assert again.public_text == first.public_text
    assert again.private.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o700


def test_host_keys_differ_per_machine(tmp_path: Path) -> None:
    a = keys.host_keypair(tmp_path, "a")
    b = keys.host_keypair(tmp_path, "b")
    assert a.public_text != b.public_text
    assert a.public_text.startswith("ssh-ed25519 ")
    assert a.private.parent == tmp_path / "hostkeys"
    assert keys.host_keypair(tmp_path, "a") == a


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_key_names_cannot_leave_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidError):
        keys.ensure_keypair(tmp_path, comment="c", name=name)


def test_a_comment_cannot_split_the_public_key_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidError):
        keys.ensure_keypair(tmp_path, comment="x\nssh-ed25519 AAAA evil")


def test_known_hosts_line_drops_the_comment() -> None:
    line = keys.known_hosts_line("10.250.0.10", "ssh-ed25519 AAAAkey host:a")
    assert line == "10.250.0.10 ssh-ed25519 AAAAkey"
    assert keys.known_hosts_line("127.0.0.1", "ssh-ed25519 K", port=2222) == (
        "[127.0.0.1]:2222 ssh-ed25519 K"
    )


def test_known_hosts_line_refuses_what_is_not_a_key() -> None:
    with pytest.raises(InvalidError):
        keys.known_hosts_line("10.0.0.1", "-----BEGIN OPENSSH PRIVATE KEY-----")
