"""Give accounts their passwords, changing only those that do not match already.

Reads a JSON list of {"name", "password"} on stdin (never on a command line); prints the
names it changed. The check verifies each password against its /etc/shadow hash, so a
second run changes nothing, without needing a fixed salt (or passlib on the controller).
"""

import crypt
import json
import spwd
import subprocess
import sys

changed = []
for account in json.load(sys.stdin):
    name, password = account["name"], account["password"]
    current = spwd.getspnam(name).sp_pwdp
    if current[:1] == "$" and crypt.crypt(password, current) == current:
        continue
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    subprocess.run(["usermod", "--password", hashed, name], check=True)
    changed.append(name)
sys.stdout.write(" ".join(changed))
