"""What the server's own logs may not carry: secrets that travel in a URL.

A console websocket is opened with `?ticket=...` (a browser cannot put a header on it),
and uvicorn logs every websocket handshake, and with `--access-log` every request, with
its query string. A ticket works once and for 30 seconds, but a log outlives both and is
read by more people than the trainee: the filter blanks the value of every `ticket`,
`token` and `password` query parameter before a record reaches a handler.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

_SECRET_PARAM = re.compile(r"((?:^|[?&;\s])(?:ticket|token|password)=)[^&;\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`/console?ticket=hc_x&y=1` -> `/console?ticket=[redacted]&y=1`."""
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Blanks secret query parameters in a record's message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on each of its handlers."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecrets}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_secrets"]
    return config
