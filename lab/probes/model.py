"""What a probe asks (`ProbeSpec`) and what it found (`ProbeResult`), in a trainer's words."""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import IPv4Address
from typing import Self

from pydantic import Field, model_validator

from lab.base import Frozen
from lab.errors import InvalidError, quote

PATH_LIMIT = 200
TEXT_LIMIT = 200
TIMEOUT_LIMIT = 60.0
USER_LIMIT = 200
PASSWORD_LIMIT = 128
QUERY_LIMIT = 500
_SHARE = re.compile(r"^[A-Za-z0-9._$-]{1,80}$")
_DATABASE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


class ProbeKind(StrEnum):
    TCP = "tcp"  # a TCP connection is accepted
    ICMP = "icmp"  # the address answers a ping
    HTTP = "http"  # a page answers with the expected status (and text)
    HTTPS = "https"  # the same over TLS; the certificate is not verified (self-signed)
    AGENT = "agent"  # the QEMU guest agent answers (from the host, through libvirt)
    # Asked with a client the checking machine has (smbclient, ldapwhoami, psql):
    SMB = "smb"  # the server lists its shares, or a share its entries
    LDAP = "ldap"  # a bind (simple, or anonymous) is accepted
    SQL = "sql"  # PostgreSQL: a query runs and returns a row


_WEB = {ProbeKind.HTTP, ProbeKind.HTTPS}
CLIENT_KINDS = frozenset({ProbeKind.SMB, ProbeKind.LDAP, ProbeKind.SQL})
_DEFAULT_PORT: dict[str, int] = {
    ProbeKind.HTTP: 80,
    ProbeKind.HTTPS: 443,
    ProbeKind.SMB: 445,
    ProbeKind.LDAP: 389,
    ProbeKind.SQL: 5432,
}


class ProbeSpec(Frozen):
    kind: ProbeKind
    machine: str  # the lab machine probed, for messages
    address: IPv4Address | None = None  # None only for AGENT
    port: int | None = None  # required for TCP; HTTP and HTTPS default to 80 and 443
    path: str = "/"  # HTTP and HTTPS only
    expect_status: int = 200  # HTTP and HTTPS only
    expect_text: str | None = None  # HTTP(S): the page's first 64 KiB; clients: their output
    timeout: float = 5.0  # seconds one attempt may take
    # SMB, LDAP and SQL only. `user` is an SMB or PostgreSQL user, or an LDAP bind DN.
    user: str | None = None
    password: str | None = Field(default=None, repr=False)  # a secret: never shown
    share: str | None = None  # SMB: list this share (else the server's shares)
    database: str | None = None  # SQL: required
    query: str | None = None  # SQL: required, one line

    @model_validator(mode="before")
    @classmethod
    def _default_port(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("port") is None:
            port = _DEFAULT_PORT.get(str(data.get("kind")))
            if port is not None:
                return {**data, "port": port}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        where = f"the {self.kind.value} probe of {quote(self.machine)}"
        if (self.address is None) != (self.kind is ProbeKind.AGENT):
            raise InvalidError(
                f"{where} needs an address"
                if self.address is None
                else f"{where} takes no address: the guest agent is reached through libvirt",
            )
        if self.kind is ProbeKind.TCP and self.port is None:
            raise InvalidError(f"{where} needs a port", hint="say which port must accept")
        if self.port is not None and self.kind in (ProbeKind.ICMP, ProbeKind.AGENT):
            raise InvalidError(f"{where} takes no port")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise InvalidError(f"{where}: port {self.port} is not between 1 and 65535")
        if not 0 < self.timeout <= TIMEOUT_LIMIT:
            raise InvalidError(
                f"{where}: timeout {self.timeout:g} s is not above 0 and at most"
                f" {TIMEOUT_LIMIT:g} s",
                hint="a probe is repeated until its deadline: each attempt stays short",
            )
        if self.kind in _WEB:
            self._check_web(where)
        elif (self.path, self.expect_status) != ("/", 200) or (
            self.expect_text is not None and self.kind not in CLIENT_KINDS
        ):
            raise InvalidError(
                f"{where} takes no path, expected status or expected text",
                hint="those belong to HTTP and HTTPS probes",
            )
        if self.kind in CLIENT_KINDS:
            self._check_client(where)
        elif self._client_fields():
            raise InvalidError(
                f"{where} takes no {self._client_fields()[0]}",
                hint="user, password, share, database and query belong to smb, ldap and sql probes",
            )
        return self

    def _client_fields(self) -> list[str]:
        fields = ("user", "password", "share", "database", "query")
        return [name for name in fields if getattr(self, name) is not None]

    def _check_client(self, where: str) -> None:
        self._check_text(where)
        user, password = self.user, self.password
        if user is not None and (
            not user
            or len(user) > USER_LIMIT
            or not user.isprintable()
            or user.startswith("-")
            or (self.kind is ProbeKind.SMB and "%" in user)
        ):
            raise InvalidError(
                f"{where}: the user {quote(user)} is not a user name or bind DN",
                hint=f"one line of at most {USER_LIMIT} printable characters, not starting"
                " with '-' (and, for SMB, without '%')",
            )
        if password is not None:
            if user is None:
                raise InvalidError(f"{where} has a password but no user", hint="give the user")
            if len(password) > PASSWORD_LIMIT or not password.isprintable():
                # The password itself is never shown.
                raise InvalidError(
                    f"{where}: the password is too long or not one line",
                    hint=f"at most {PASSWORD_LIMIT} printable characters",
                )
        if self.share is not None and (
            self.kind is not ProbeKind.SMB or not _SHARE.fullmatch(self.share)
        ):
            raise InvalidError(
                f"{where}: a share {quote(self.share)} is not a share name"
                if self.kind is ProbeKind.SMB
                else f"{where} takes no share",
                hint="an SMB share name: letters, digits, '.', '_', '$', '-' (at most 80)",
            )
        if self.kind is ProbeKind.SQL:
            self._check_sql(where)
        elif (self.database, self.query) != (None, None):
            raise InvalidError(
                f"{where} takes no database or query", hint="those belong to sql probes"
            )

    def _check_sql(self, where: str) -> None:
        if self.user is None or self.database is None or self.query is None:
            raise InvalidError(
                f"{where} needs a user, a database and a query",
                hint="e.g. user: operator, database: docflow, query: select 1",
            )
        if not _DATABASE.fullmatch(self.database):
            raise InvalidError(
                f"{where}: {quote(self.database)} is not a database name",
                hint="a letter or '_', then letters, digits, '_' or '-' (at most 63)",
            )
        query = self.query
        if not query.strip() or len(query) > QUERY_LIMIT or not query.isprintable():
            raise InvalidError(
                f"{where}: the query {quote(query)} is empty, too long or not one line",
                hint=f"one SQL statement on one line, at most {QUERY_LIMIT} characters",
            )

    def _check_text(self, where: str) -> None:
        text = self.expect_text
        if text is not None and (not text or len(text) > TEXT_LIMIT or not text.isprintable()):
            raise InvalidError(
                f"{where}: the expected text {quote(text)} is empty, too long or not one line",
                hint=f"a few words of the answer, at most {TEXT_LIMIT} characters",
            )

    def _check_web(self, where: str) -> None:
        path = self.path
        if (
            not path.startswith("/")
            or len(path) > PATH_LIMIT
            or not all("!" <= c <= "~" for c in path)
        ):
            raise InvalidError(
                f"{where}: the path {quote(path)} is not a URL path",
                hint=f"it starts with '/' and has at most {PATH_LIMIT} printable ASCII"
                " characters, without spaces (percent-encode anything else)",
            )
        if not 100 <= self.expect_status <= 599:
            raise InvalidError(f"{where}: {self.expect_status} is not an HTTP status")
        self._check_text(where)

    def describe(self) -> str:
        """The probe in a few words: 'HTTP http://10.77.0.20:80/health', 'TCP 10.77.0.20:22',
        'SMB //10.77.0.20/cnap as operator' (never the password)."""
        match self.kind:
            case ProbeKind.AGENT:
                return "guest agent"
            case ProbeKind.ICMP:
                return f"ICMP {self.address}"
            case ProbeKind.TCP:
                return f"TCP {self.address}:{self.port}"
            case ProbeKind.SMB:
                port = "" if self.port == _DEFAULT_PORT[ProbeKind.SMB] else f" (port {self.port})"
                share = f"/{self.share}" if self.share else ""
                who = f"as {self.user}" if self.user else "anonymously"
                return f"SMB //{self.address}{share}{port} {who}"
            case ProbeKind.LDAP:
                url = f"ldap://{self.address}:{self.port}"
                return (
                    f"LDAP bind {url} as {self.user}" if self.user else f"LDAP anonymous bind {url}"
                )
            case ProbeKind.SQL:
                url = f"postgres://{self.user}@{self.address}:{self.port}/{self.database}"
                return f"SQL {quote(self.query or '', 60)} on {url}"
            case _:
                return f"{self.kind.name} {self.kind.value}://{self.address}:{self.port}{self.path}"


class ProbeResult(Frozen):
    spec: ProbeSpec
    ok: bool
    detail: str  # what happened, in words a trainer understands
