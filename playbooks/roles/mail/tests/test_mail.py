"""mail: mail to a staff member of the lab's domain is delivered and readable over IMAP."""

import shlex
import uuid

import pytest

# Polls the Maildir (delivery is asynchronous), then logs in over IMAP and looks for the
# subject. Credentials come in the environment; prints one verdict line.
_IMAP_CHECK = r"""
import imaplib, os, sys
try:
    m = imaplib.IMAP4("127.0.0.1", 143, timeout=60)
except OSError as exc:
    print("connect-failed", exc)
    sys.exit(0)
try:
    m.login(os.environ["LAB_USER"], os.environ["LAB_PASSWORD"])
except imaplib.IMAP4.error as exc:
    print("login-failed", exc)
    sys.exit(0)
m.select("INBOX", readonly=True)
typ, data = m.search(None, "SUBJECT", '"%s"' % os.environ["LAB_SUBJECT"])
print("found" if data and data[0].split() else "not-found")
m.logout()
"""


@pytest.fixture
def staff(lab):
    accounts = [a for a in lab["lab_accounts"] if a["kind"] == "staff"]
    if not accounts:
        pytest.skip("the profile has no staff accounts to receive mail")
    return accounts[0]


def test_services_running(host):
    assert host.service("dovecot").is_running, "dovecot is not running"
    assert host.run("sudo postfix status").rc == 0, "postfix is not running"
    assert host.socket("tcp://0.0.0.0:25").is_listening, "nothing listens for SMTP on port 25"
    assert host.socket("tcp://0.0.0.0:143").is_listening, "nothing listens for IMAP on port 143"


def test_mail_delivered_and_readable_over_imap(host, lab, staff):
    name = staff["name"]
    address = f"{name}@{lab['lab_domain']}"
    subject = f"lab-test {uuid.uuid4().hex}"
    message = f"From: labadmin@{lab['lab_domain']}\nTo: {address}\nSubject: {subject}\n\nПривіт!\n"
    # over SMTP (port 25), as a mail client would
    send = host.run(
        "python3 -c "
        + shlex.quote(
            "import smtplib, sys; s = smtplib.SMTP('127.0.0.1', 25, timeout=60); "
            "s.sendmail(sys.argv[1], [sys.argv[2]], sys.stdin.buffer.read()); s.quit()"
        )
        + f" labadmin@{lab['lab_domain']} {shlex.quote(address)} <<'EOF'\n{message}EOF"
    )
    assert send.rc == 0, f"the SMTP server refused mail to {address}: {send.stderr.strip()[-300:]}"

    maildir = f"{host.user(name).home}/Maildir/new"
    delivered = host.run(
        f"for i in $(seq 60); do sudo grep -rlsF {shlex.quote(subject)} {maildir} && exit 0; "
        "sleep 1; done; exit 1"
    )
    assert delivered.rc == 0, f"the mail to {address} did not arrive in {maildir} within 60 s"

    env = (
        f"LAB_USER={shlex.quote(name)} LAB_PASSWORD={shlex.quote(staff['password'])} "
        f"LAB_SUBJECT={shlex.quote(subject)}"
    )
    imap = host.run(f"{env} python3 -c {shlex.quote(_IMAP_CHECK)}")
    # plain values only: an assertion on `imap` itself would print the command (password)
    rc, verdict, err = imap.rc, imap.stdout.strip(), imap.stderr.strip()
    assert not verdict.startswith("connect-failed"), f"no IMAP server on 127.0.0.1:143: {verdict}"
    assert not verdict.startswith("login-failed"), f"IMAP login as {name} failed: {verdict}"
    assert rc == 0, f"the IMAP check failed: {(err.splitlines() or [''])[-1]}"
    assert verdict == "found", f"IMAP as {name} does not show the delivered message"
    host.run(f"sudo grep -rlsF {shlex.quote(subject)} {maildir} | sudo xargs -r rm -f")
