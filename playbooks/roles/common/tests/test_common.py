"""common: accounts, Ukrainian locale, Kyiv time, time sync and the journal."""

import shlex


def _run(host, command):
    """(exit code, stdout, stderr) of a command on the guest, as plain values, so that a
    failed assertion never shows the command (which may hold a password)."""
    result = host.run(command)
    return result.rc, result.stdout, result.stderr


def test_ukrainian_locale_available(host):
    rc, out, err = _run(host, "locale -a")
    assert rc == 0, f"`locale -a` failed: {err.strip()}"
    assert "uk_UA.utf8" in out.split(), "locale uk_UA.UTF-8 is not generated (locale -a)"
    rc, out, err = _run(host, "LC_ALL=uk_UA.UTF-8 date -d 2024-01-01 +%B")
    assert rc == 0 and not err.strip(), f"uk_UA.UTF-8 is not usable: {err.strip()}"
    assert out.strip() == "січня", f"uk_UA.UTF-8 gives month name {out.strip()!r}, not 'січня'"


def test_timezone_is_kyiv(host):
    link = host.file("/etc/localtime").linked_to
    assert link.endswith("/Europe/Kyiv"), f"/etc/localtime points at {link}, not Europe/Kyiv"
    _, out, _ = _run(host, "date +%Z")
    assert out.strip() in {"EET", "EEST"}, f"the guest's time zone is {out.strip()!r}, not Kyiv"


def test_accounts_exist_with_full_names(host, lab):
    for account in lab["lab_accounts"]:
        user = host.user(account["name"])
        assert user.exists, f"account {account['name']} does not exist"
        assert user.gecos.split(",")[0] == account["full_name"], (
            f"account {account['name']} has full name {user.gecos!r}, not {account['full_name']!r}"
        )
        missing = set(account["groups"]) - set(user.groups)
        assert not missing, f"account {account['name']} is not in groups {sorted(missing)}"


def test_staff_passwords_set(host, lab):
    check = (
        "import crypt, sys; h = sys.stdin.read().strip(); "
        "print(h[:1] == '$' and crypt.crypt(sys.argv[1], h) == h)"
    )
    for account in lab["lab_accounts"]:
        if account["kind"] != "staff":
            continue
        name = account["name"]
        _, out, _ = _run(
            host,
            f"sudo getent shadow {shlex.quote(name)} | cut -d: -f2 | "
            f"python3 -W ignore -c {shlex.quote(check)} {shlex.quote(account['password'])}",
        )
        assert out.strip() == "True", f"staff account {name} does not have its lab password"


def test_time_sync_points_at_lab_host(host, lab):
    service = host.service("systemd-timesyncd")
    assert service.is_running, "systemd-timesyncd is not running"
    assert service.is_enabled, "systemd-timesyncd is not enabled"
    rc, out, err = _run(host, "timedatectl show-timesync -p SystemNTPServers --value")
    assert rc == 0, f"timedatectl show-timesync failed: {err.strip()}"
    assert out.split() == [lab["lab_time_server"]], (
        f"timesyncd asks {out.strip()!r}, not the lab host {lab['lab_time_server']}"
    )


def test_journal_persistent_and_limited(host):
    rc, out, _ = _run(host, "systemd-analyze cat-config systemd/journald.conf")
    assert "/etc/systemd/journald.conf.d/lab.conf" in out, "the journald drop-in is missing"
    assert "Storage=persistent" in out, "journald is not set to persistent storage"
    assert "SystemMaxUse=" in out, "journald's size is not limited"
    rc, out, _ = _run(host, "cat /etc/machine-id")
    journal = host.file(f"/var/log/journal/{out.strip()}")
    assert journal.is_directory, "the journal is not written to /var/log/journal (not persistent)"
    rc, _, err = _run(host, "journalctl --disk-usage")
    assert rc == 0, f"journalctl does not work: {err.strip()}"
