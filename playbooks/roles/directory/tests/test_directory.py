"""directory: the community's LDAP directory lists its staff, who can bind with their
passwords."""

import base64
import shlex


def _base(lab):
    return ",".join(f"dc={part}" for part in lab["lab_domain"].split("."))


def _staff(lab):
    return [a for a in lab["lab_accounts"] if a["kind"] == "staff"]


def _attributes(ldif):
    """LDIF text (unwrapped) -> {attribute: [values]}, base64 values decoded."""
    values = {}
    for line in ldif.splitlines():
        if "::" in line:
            key, _, value = line.partition(":: ")
            value = base64.b64decode(value).decode("utf-8")
        elif ": " in line:
            key, _, value = line.partition(": ")
        else:
            continue
        values.setdefault(key, []).append(value)
    return values


def test_slapd_running(host):
    assert host.service("slapd").is_running, "slapd is not running"
    assert host.socket("tcp://0.0.0.0:389").is_listening, "slapd does not listen on port 389"


def test_staff_found_in_people(host, lab):
    base = _base(lab)
    for account in _staff(lab):
        result = host.run(
            f"ldapsearch -x -LLL -o ldif-wrap=no -H ldap://127.0.0.1 -b {shlex.quote(base)} "
            f"uid={shlex.quote(account['name'])} cn uid"
        )
        assert result.rc == 0, f"ldapsearch under {base} failed: {result.stderr.strip()}"
        found = _attributes(result.stdout)
        dn = f"uid={account['name']},ou=people,{base}"
        assert found.get("dn") == [dn], (
            f"staff account {account['name']} is not in the directory as {dn}"
        )
        assert found.get("cn") == [account["full_name"] or account["name"]], (
            f"directory entry {dn} has cn {found.get('cn')}, not {account['full_name']!r}"
        )


def test_staff_bind_with_password(host, lab):
    base = _base(lab)
    for account in _staff(lab):
        dn = f"uid={account['name']},ou=people,{base}"
        result = host.run(
            f"ldapwhoami -x -H ldap://127.0.0.1 -D {shlex.quote(dn)} "
            f"-w {shlex.quote(account['password'])}"
        )
        rc, out = result.rc, result.stdout.strip()
        assert rc == 0 and out == f"dn:{dn}", f"{dn} cannot bind with its password"
        wrong = host.run(
            f"ldapwhoami -x -H ldap://127.0.0.1 -D {shlex.quote(dn)} -w not-the-password"
        ).rc
        assert wrong != 0, f"{dn} can bind with a wrong password"
