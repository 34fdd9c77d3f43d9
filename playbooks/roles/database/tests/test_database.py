"""database: the `registry` database answers SQL over TCP with its role's password."""

# The role keeps the password of `registry` on the guest in root's .pgpass (libpq format),
# so the tests read it there with sudo: it never travels through the test's command line.
_PSQL = "sudo env PGCONNECT_TIMEOUT=20 psql -X -w -h 127.0.0.1 -U registry -d registry -t -A"


def test_postgresql_running(host):
    assert host.service("postgresql@15-main").is_running, "PostgreSQL 15 (main) is not running"
    assert host.socket("tcp://0.0.0.0:5432").is_listening, (
        "PostgreSQL does not listen on all addresses (port 5432)"
    )


def test_registry_rows_over_tcp(host):
    result = host.run(f"{_PSQL} -c 'SELECT count(*) FROM service_requests'")
    assert result.rc == 0, (
        f"registry@127.0.0.1 cannot query service_requests: {result.stderr.strip()}"
    )
    assert int(result.stdout.strip()) > 0, "the registry's service_requests table is empty"


def test_registry_owns_its_database_and_text_is_utf8(host):
    result = host.run(
        f'{_PSQL} -c "SELECT pg_catalog.pg_get_userbyid(datdba), pg_encoding_to_char(encoding) '
        "FROM pg_database WHERE datname = 'registry'\""
    )
    assert result.stdout.strip() == "registry|UTF8", (
        f"database registry should be owned by registry and UTF8, got {result.stdout.strip()!r}"
    )
    result = host.run(f'{_PSQL} -c "SELECT resident FROM service_requests WHERE id = 1"')
    assert result.stdout.strip() == "Коваленко Олена Петрівна", (
        f"Ukrainian text does not come back intact: {result.stdout.strip()!r}"
    )


def test_wrong_password_refused(host):
    result = host.run(
        "PGPASSWORD=wrong-password PGCONNECT_TIMEOUT=20 psql -X -w -h 127.0.0.1 -U registry "
        "-d registry -c 'SELECT 1'"
    )
    assert result.rc != 0, "PostgreSQL lets registry in with a wrong password"
