"""`lab serve`: the HTTP API (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from lab.settings import get_settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
) -> None:
    """Run the lab API; OpenAPI at /openapi.json, interactive docs at /docs."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(get_settings()), host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command()(serve)
