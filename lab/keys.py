"""SSH keys of a lab: the orchestrator's client key and each machine's host key.

Host keys are made here, before the guests boot, and handed to them in their seed,
so the orchestrator pins every guest's identity instead of trusting on first use.
Keys are generated in-process with `cryptography` (paramiko's own dependency).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict


class KeyPair(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    private: Path
    public: Path
    public_text: str  # "ssh-ed25519 AAAA... comment"


def ensure_keypair(directory: Path, comment: str, name: str = "id_ed25519") -> KeyPair:
    """The ed25519 key `directory/name`, made on first use (private key mode 0600)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    private = directory / name
    public = directory / f"{name}.pub"
    if not (private.exists() and public.exists()):
        key = Ed25519PrivateKey.generate()
        private_bytes = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        public_bytes = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        _write_private(private, private_bytes)
        public.write_text(f"{public_bytes.decode()} {comment}\n")
    return KeyPair(private=private, public=public, public_text=public.read_text().strip())


def host_keypair(directory: Path, machine: str) -> KeyPair:
    """Machine `machine`'s SSH host key, kept under `directory/hostkeys/`."""
    return ensure_keypair(directory / "hostkeys", comment=f"host:{machine}", name=machine)


def known_hosts_line(address: str, host_public_text: str) -> str:
    """An OpenSSH known_hosts line pinning `address` to the given host key (pure)."""
    key_type, key_data = host_public_text.split()[:2]
    return f"{address} {key_type} {key_data}"


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the first byte: the key is never readable by others, even briefly.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)
