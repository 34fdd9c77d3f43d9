"""An ASGI app served by uvicorn in a thread on a free port of 127.0.0.1, for a browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Page, expect


@contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """The app's base URL while it is served; stopped afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def open_page(browser: Browser, base_url: str, **context: Any) -> Iterator[Page]:
    """A fresh browser context (nothing remembered) and page; no uncaught script error
    may happen on it."""
    opened_context = browser.new_context(base_url=base_url, locale="uk-UA", **context)
    opened = opened_context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    opened_context.close()
    assert not errors, errors


def log_in(page: Page, name: str, password: str, where: str = "/") -> None:
    """Log in through the page's form (at `where`) and wait for the header to name them."""
    page.goto(where)
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#who")).to_contain_text(name)
