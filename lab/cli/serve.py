"""`lab serve`: the HTTP API (FastAPI under uvicorn).

One process, one event loop: the state it serves lives in SQLite, and the operations it
starts run in its worker threads. uvloop and httptools (C) carry the HTTP; the hot
reads are answered on the loop from caches (see api.routes.labs), everything slow in
worker threads.

Passwords, session tokens, access sheets and console keystrokes cross the network, so
`lab serve` speaks plain HTTP only where no network sees it: on a loopback address, or
to a named reverse proxy that terminates TLS for it (`--proxy`). Anywhere else it needs a
certificate and key (`--tls-cert`, `--tls-key`, or LAB_TLS_CERT / LAB_TLS_KEY).
"""

from __future__ import annotations

import gc
import ssl
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated

import typer

from lab.errors import InvalidError
from lab.settings import get_settings


@dataclass(frozen=True)
class Listen:
    """Where and how `lab serve` listens, once checked."""

    host: str
    port: int
    tls_cert: Path | None = None
    tls_key: Path | None = None
    proxy: str = ""  # the reverse proxy whose X-Forwarded-* headers are believed


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listen(listen: Listen) -> Listen:
    """InvalidError for a listener that would carry logins in clear over a network, or
    whose certificate and key cannot be used."""
    if (listen.tls_cert is None) != (listen.tls_key is None):
        raise InvalidError(
            "TLS needs both a certificate and its key",
            hint="give --tls-cert FILE and --tls-key FILE (LAB_TLS_CERT, LAB_TLS_KEY)",
        )
    if listen.tls_cert is not None and listen.tls_key is not None:
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                listen.tls_cert, listen.tls_key
            )
        except (OSError, ssl.SSLError) as exc:
            raise InvalidError(
                f"cannot use the certificate {listen.tls_cert} with the key {listen.tls_key}:"
                f" {exc}",
                hint="both PEM files, readable by this user, the key matching the certificate",
            ) from exc
        return listen
    if not is_loopback(listen.host) and not listen.proxy:
        raise InvalidError(
            f"lab serve would listen on {listen.host} over plain HTTP: passwords, tokens and"
            " consoles would cross the network in clear",
            hint="give --tls-cert and --tls-key; or listen on 127.0.0.1 behind a TLS"
            " reverse proxy; or name the proxy that terminates TLS: --proxy ADDRESS",
        )
    return listen


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Serve HTTPS with this certificate (PEM) [env LAB_TLS_CERT]"),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="The certificate's private key (PEM) [env LAB_TLS_KEY]")
    ] = None,
    proxy: Annotated[
        str,
        typer.Option(
            help="Address of the reverse proxy that terminates TLS in front of this server:"
            " its X-Forwarded-For is believed, and plain HTTP may listen beyond loopback"
        ),
    ] = "",
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log every request (the audit log records every mutating one by a user regardless)"
        ),
    ] = False,
) -> None:
    """Run the lab API; its OpenAPI document at /openapi.json."""
    import uvicorn

    from api.app import create_app
    from api.logs import log_config

    settings = get_settings()
    listen = check_listen(
        Listen(host, port, tls_cert or settings.tls_cert, tls_key or settings.tls_key, proxy)
    )
    app = create_app(settings)
    # What exists by now (modules, the app, the labs read at start) lives as long as the
    # process: out of the collector's sight, a full collection takes no ~60 ms pause
    # in the middle of requests.
    gc.freeze()
    uvicorn.run(
        app,
        host=listen.host,
        port=listen.port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_config=log_config(),  # console tickets in websocket URLs are blanked
        ssl_certfile=listen.tls_cert,
        ssl_keyfile=listen.tls_key,
        # A client's address (login throttling, the audit log) is the peer's, unless the
        # peer is the named proxy.
        proxy_headers=bool(listen.proxy),
        forwarded_allow_ips=listen.proxy or None,
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
