"""Add staff accounts to Samba with their passwords, or fix the passwords that changed.

Reads a JSON list of {"name", "password"} on stdin (never on a command line); argv[1] is
a root-only directory of stamps: a salted SHA-512 crypt of the password Samba was last
given, so an unchanged password is verified and skipped. Prints the names it changed.
"""

import crypt
import json
import os
import subprocess
import sys

stamps = sys.argv[1]
os.makedirs(stamps, mode=0o700, exist_ok=True)
listed = subprocess.run(["pdbedit", "-L"], capture_output=True, text=True, check=True).stdout
known = {line.split(":", 1)[0] for line in listed.splitlines()}
changed = []
for account in json.load(sys.stdin):
    name, password = account["name"], account["password"]
    stamp = os.path.join(stamps, name)
    try:
        with open(stamp, encoding="ascii") as f:
            old = f.read().strip()
    except FileNotFoundError:
        old = ""
    if name in known and old and crypt.crypt(password, old) == old:
        continue
    subprocess.run(
        ["smbpasswd", "-s", "-a", name],
        input=f"{password}\n{password}\n",
        text=True,
        capture_output=True,
        check=True,
    )
    fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512)) + "\n")
    changed.append(name)
sys.stdout.write(" ".join(changed))
