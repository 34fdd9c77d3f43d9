"""file_server: each department's share is writable by its members and nobody else."""

import shlex
import uuid


def _staff(lab):
    return {a["name"]: a for a in lab["lab_accounts"] if a["kind"] == "staff"}


def _smbclient(host, share, user, password, commands):
    """Run smbclient on the guest; (exit code, output). The credentials travel in the
    environment of the guest command, and never appear in an assertion message."""
    env = f"USER={shlex.quote(user)} PASSWD={shlex.quote(password)}" if user else ""
    auth = "" if user else "-N"
    result = host.run(
        f"{env} smbclient {auth} //localhost/{shlex.quote(share)} -c {shlex.quote(commands)}"
    )
    return result.rc, result.stdout + result.stderr


def test_smbd_running(host):
    assert host.service("smbd").is_running, "smbd is not running"
    assert host.socket("tcp://0.0.0.0:445").is_listening, "smbd does not listen on port 445"


def test_members_write_and_read_back(host, lab):
    staff = _staff(lab)
    for share, members in lab["lab_departments"].items():
        member = staff[members[0]]
        token = uuid.uuid4().hex
        name = f"lab-test-{token[:8]}.txt"
        local, back = f"/tmp/{name}", f"/tmp/{name}.back"
        host.run(f"printf '%s\\n' {token} > {local}")
        rc, out = _smbclient(
            host,
            share,
            member["name"],
            member["password"],
            f"put {local} {name}; get {name} {back}; del {name}",
        )
        content = host.file(back).content_string if host.file(back).exists else ""
        host.run(f"rm -f {local} {back}")
        assert rc == 0, f"{member['name']} cannot write to share {share}: {out.strip()[-300:]}"
        assert content.strip() == token, (
            f"the file {member['name']} wrote to share {share} did not read back the same"
        )


def test_non_members_cannot_write(host, lab):
    staff = _staff(lab)
    for share, members in lab["lab_departments"].items():
        rc, out = _smbclient(host, share, "", "", "ls")
        assert rc != 0, f"share {share} lets anonymous users in"
        outsiders = [a for n, a in staff.items() if n not in members]
        for outsider in outsiders[:1]:
            rc, out = _smbclient(
                host,
                share,
                outsider["name"],
                outsider["password"],
                "put /etc/hostname lab-outsider.txt",
            )
            assert rc != 0, f"{outsider['name']} can write to share {share} without being a member"
            assert "NT_STATUS_ACCESS_DENIED" in out or "NT_STATUS_LOGON_FAILURE" in out, (
                f"{outsider['name']} writing to {share} failed for an unexpected reason: "
                f"{out.strip()[-300:]}"
            )
