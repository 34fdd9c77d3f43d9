"""What a probe asks (`ProbeSpec`) and what it found (`ProbeResult`), in a trainer's words."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address
from typing import Self

from pydantic import model_validator

from lab.base import Frozen
from lab.errors import InvalidError, quote

PATH_LIMIT = 200
TEXT_LIMIT = 200
TIMEOUT_LIMIT = 60.0


class ProbeKind(StrEnum):
    TCP = "tcp"  # a TCP connection is accepted
    ICMP = "icmp"  # the address answers a ping
    HTTP = "http"  # a page answers with the expected status (and text)
    HTTPS = "https"  # the same over TLS; the certificate is not verified (self-signed)
    AGENT = "agent"  # the QEMU guest agent answers (from the host, through libvirt)


_WEB = {ProbeKind.HTTP, ProbeKind.HTTPS}
_DEFAULT_PORT: dict[str, int] = {ProbeKind.HTTP: 80, ProbeKind.HTTPS: 443}


class ProbeSpec(Frozen):
    kind: ProbeKind
    machine: str  # the lab machine probed, for messages
    address: IPv4Address | None = None  # None only for AGENT
    port: int | None = None  # required for TCP; HTTP and HTTPS default to 80 and 443
    path: str = "/"  # HTTP and HTTPS only
    expect_status: int = 200  # HTTP and HTTPS only
    expect_text: str | None = None  # HTTP and HTTPS only: the page's first 64 KiB hold it
    timeout: float = 5.0  # seconds one attempt may take

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
        elif (self.path, self.expect_status, self.expect_text) != ("/", 200, None):
            raise InvalidError(
                f"{where} takes no path, expected status or expected text",
                hint="those belong to HTTP and HTTPS probes",
            )
        return self

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
        text = self.expect_text
        if text is not None and (not text or len(text) > TEXT_LIMIT or not text.isprintable()):
            raise InvalidError(
                f"{where}: the expected text {quote(text)} is empty, too long or not one line",
                hint=f"a few words of the page, at most {TEXT_LIMIT} characters",
            )

    def describe(self) -> str:
        """The probe in a few words: 'HTTP http://10.77.0.20:80/health', 'TCP 10.77.0.20:22'."""
        match self.kind:
            case ProbeKind.AGENT:
                return "guest agent"
            case ProbeKind.ICMP:
                return f"ICMP {self.address}"
            case ProbeKind.TCP:
                return f"TCP {self.address}:{self.port}"
            case _:
                return f"{self.kind.name} {self.kind.value}://{self.address}:{self.port}{self.path}"


class ProbeResult(Frozen):
    spec: ProbeSpec
    ok: bool
    detail: str  # what happened, in words a trainer understands
