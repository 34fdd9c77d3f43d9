"""SSH keys of a lab: the orchestrator's client key and each machine's host key.

Host keys are made here, before the guests boot, and handed to them in their seed,
so the orchestrator pins every guest's identity instead of trusting on first use.
Keys are made by `ssh-keygen` (through the one subprocess gate), so they are exactly
what OpenSSH itself would make and read.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lab.commands import run
from lab.errors import InvalidError

_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_KEYGEN_HINT = "install OpenSSH's client tools: apt-get install openssh-client"


class KeyPair(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    private: Path
    public: Path
    public_text: str  # "ssh-ed25519 AAAA... comment"


def ensure_keypair(directory: Path, comment: str, name: str = "id_ed25519") -> KeyPair:
    """The ed25519 key `directory/name`, made on first use and reused after that.

    The directory is kept 0700 and the private key 0600. A lost `.pub` is derived
    again from the private key; a lost private key means a new pair.
    """
    _check(name, comment)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    private = directory / name
    public = directory / f"{name}.pub"
    with _locked(directory):
        if not private.exists():
            _generate(directory, private, public, comment)
        private.chmod(0o600)  # before ssh-keygen -y, which refuses a readable key
        if not public.exists():
            derived = run(["ssh-keygen", "-y", "-f", private], input=b"", timeout=30)
            key_type, key_data = derived.stdout.decode().split()[:2]
            public.write_text(f"{key_type} {key_data} {comment}\n")
    return KeyPair(private=private, public=public, public_text=public.read_text().strip())


def host_keypair(directory: Path, machine: str) -> KeyPair:
    """Machine `machine`'s SSH host key (ed25519), kept under `directory/hostkeys/`."""
    return ensure_keypair(directory / "hostkeys", comment=f"host:{machine}", name=machine)


def known_hosts_line(address: str, host_public_text: str, port: int = 22) -> str:
    """An OpenSSH known_hosts line pinning `address` to the given host key (pure)."""
    fields = host_public_text.split()
    if len(fields) < 2 or not fields[0].startswith(("ssh-", "ecdsa-")):
        raise InvalidError(
            "not an OpenSSH public key line",
            hint="expected 'ssh-ed25519 AAAA... [comment]' (a .pub file's content)",
        )
    host = address if port == 22 else f"[{address}]:{port}"
    return f"{host} {fields[0]} {fields[1]}"


def _check(name: str, comment: str) -> None:
    if not _FILE_NAME.fullmatch(name):
        raise InvalidError(
            f"{name!r} cannot name a key file",
            hint="use letters, digits, '.', '_' and '-' (machine names always qualify)",
        )
    if not comment.isprintable():
        # A line break in the comment would split the .pub line (and authorized_keys).
        raise InvalidError(f"the key comment {comment!r} holds control characters")


def _generate(directory: Path, private: Path, public: Path, comment: str) -> None:
    # Made in a private scratch directory and moved into place, public half first: the
    # private key's presence means "the pair is complete", even after a crash halfway.
    with tempfile.TemporaryDirectory(dir=directory, prefix=".keygen-") as tmp:
        staged = Path(tmp) / "key"
        run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", staged],
            input=b"",  # never wait on a prompt
            timeout=30,
            hint=_KEYGEN_HINT,
        )
        staged.chmod(0o600)
        staged.with_name("key.pub").replace(public)
        staged.replace(private)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # Two processes making the same key at once must not end up with halves of two pairs.
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
