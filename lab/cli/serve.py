"""`lab serve`: the HTTP API (FastAPI under uvicorn).

One process, one event loop: the state it serves lives in SQLite, and the operations it
starts run in its worker threads. uvloop and httptools (C) carry the HTTP; the hot
reads are answered on the loop from caches (see api.routes.labs), everything slow in
worker threads.
"""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from lab.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log every request (the audit log records every mutating one regardless)"
        ),
    ] = False,
) -> None:
    """Run the lab API; OpenAPI at /openapi.json, interactive docs at /docs."""
    import uvicorn

    from api.app import create_app
    from api.logs import log_config

    app = create_app(get_settings())
    # What exists by now (modules, the app, the labs read at start) lives as long as the
    # process: out of the collector's sight, a full collection takes no ~60 ms pause
    # in the middle of requests.
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_config=log_config(),  # console tickets in websocket URLs are blanked
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
