"""workstation: the client tools run, and reach the lab's servers where the lab has them."""

import html
import shlex

import pytest

TOOLS = {
    "smbclient": "smbclient --version",
    "ldapsearch": "ldapsearch -VV",
    "curl": "curl --version",
    "psql": "psql --version",
    "mutt": "mutt -v",
}


def _servers(lab, role):
    """Addresses of the lab's machines with `role`, on networks this machine shares."""
    mine = lab["lab_machines"][lab["machine"]]["addresses"]
    found = [
        address
        for machine in lab["lab_machines"].values()
        if role in machine["roles"]
        for network, address in sorted(machine["addresses"].items())
        if network in mine
    ]
    if not found:
        pytest.skip(f"this lab has no {role} on a network of {lab['machine']}")
    return found


def _run(host, command):
    """(exit code, stdout, stderr) as plain values: an assertion on the result object
    itself would print the command, and some hold a password."""
    result = host.run(command)
    return result.rc, result.stdout, result.stderr


def _staff(lab):
    staff = [a for a in lab["lab_accounts"] if a["kind"] == "staff"]
    if not staff:
        pytest.skip("the profile has no staff accounts")
    return staff


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_client_tool_runs(host, tool):
    result = host.run(TOOLS[tool])
    assert result.rc == 0, f"{tool} does not run: {result.stderr.strip()[-300:]}"


def test_opens_portal(host, lab):
    title = lab["lab_community"]["title"]
    for address in _servers(lab, "web-portal"):
        result = host.run(f"curl -sS --max-time 120 http://{address}/")
        assert result.rc == 0, f"the portal at {address} does not answer: {result.stderr.strip()}"
        assert title in html.unescape(result.stdout), f"the portal at {address} lacks {title!r}"


def test_lists_file_server_shares(host, lab):
    staff = _staff(lab)[0]
    for address in _servers(lab, "file-server"):
        rc, out, _ = _run(
            host,
            f"USER={shlex.quote(staff['name'])} PASSWD={shlex.quote(staff['password'])} "
            f"smbclient -g -L //{address}",
        )
        assert rc == 0, f"smbclient cannot list the shares of {address} as {staff['name']}"
        shares = {line.split("|")[1] for line in out.splitlines() if line.startswith("Disk|")}
        missing = set(lab["lab_departments"]) - shares
        assert not missing, f"the file server at {address} does not offer shares {sorted(missing)}"


def test_finds_staff_in_directory_by_default(host, lab):
    _servers(lab, "directory")
    staff = _staff(lab)[0]
    # no -H/-b: the URI and BASE come from /etc/ldap/ldap.conf
    result = host.run(f"ldapsearch -x -LLL uid={shlex.quote(staff['name'])} uid")
    assert result.rc == 0, (
        f"ldapsearch with the workstation's defaults fails: {result.stderr.strip()}"
    )
    assert f"uid: {staff['name']}" in result.stdout, f"the directory does not list {staff['name']}"


def test_reaches_database(host, lab):
    for address in _servers(lab, "database"):
        # no password given: a server that lets us try says so; a closed port or a
        # pg_hba.conf rejection reads differently
        result = host.run(
            f"PGCONNECT_TIMEOUT=20 psql -X -w -h {address} -U registry -d registry -c 'SELECT 1'"
        )
        assert "no password supplied" in result.stderr, (
            f"PostgreSQL at {address} cannot be asked for a login: {result.stderr.strip()[-300:]}"
        )


def test_logs_in_to_mail(host, lab):
    staff = _staff(lab)[0]
    for address in _servers(lab, "mail"):
        rc, out, err = _run(
            host,
            f"curl -sS --max-time 60 -u {shlex.quote(staff['name'] + ':' + staff['password'])} "
            f"imap://{address}/",
        )
        assert rc == 0, f"IMAP login as {staff['name']} at {address} fails: {err.strip()}"
        assert "INBOX" in out, f"IMAP at {address} shows no INBOX for {staff['name']}"
