from pathlib import Path

from lab import keys


def test_keypair_is_private_and_reused(tmp_path: Path) -> None:
    first = keys.ensure_keypair(tmp_path / "keys", comment="hromada-lab:demo")
    assert first.public_text.startswith("ssh-ed25519 ")
    assert first.public_text.endswith(" hromada-lab:demo")
    assert first.private.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert "OPENSSH PRIVATE KEY" in first.private.read_text()
    again = keys.ensure_keypair(tmp_path / "keys", comment="other")
    assert again.public_text == first.public_text


def test_host_keys_differ_per_machine(tmp_path: Path) -> None:
    a = keys.host_keypair(tmp_path, "a")
    b = keys.host_keypair(tmp_path, "b")
    assert a.public_text != b.public_text
    assert a.private.parent == tmp_path / "hostkeys"


def test_known_hosts_line_drops_the_comment() -> None:
    line = keys.known_hosts_line("10.250.0.10", "ssh-ed25519 AAAAkey host:a")
    assert line == "10.250.0.10 ssh-ed25519 AAAAkey"
