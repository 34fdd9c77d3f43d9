"""Per-lab account passwords: made once, kept beside the lab's keys, readable by us only.

Staff accounts need passwords for what a community really does with them (Samba shares,
IMAP, LDAP binds); every seat of a class gets its own. They live in
`labs/LAB/keys/passwords.json` (0600, in the 0700 keys directory), are handed to Ansible
and to the verification tests, and are never printed, logged or put in an error.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from lab.profile import Profile

_LENGTH = 18  # bytes of randomness; token_urlsafe gives 24 characters


def account_passwords(keys_dir: Path, profile: Profile) -> dict[str, str]:
    """Every account's password; new accounts get one, known ones keep theirs."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = keys_dir / "passwords.json"
    known: dict[str, str] = {}
    if path.is_file():
        known = json.loads(path.read_text(encoding="utf-8"))
    wanted = {a.name: known.get(a.name) or secrets.token_urlsafe(_LENGTH) for a in profile.accounts}
    if wanted != known:
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # a stale one keeps its old mode; O_EXCL makes it ours
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(wanted, f)
        os.replace(tmp, path)
    return wanted


def known_passwords(keys_dir: Path) -> dict[str, str]:
    """The accounts' passwords as the lab was made with them; {} if it has none yet.
    Only reads: a password made now would not be the one the guest has."""
    path = keys_dir / "passwords.json"
    if not path.is_file():
        return {}
    known: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return known
