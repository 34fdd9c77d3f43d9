"""One-time console tickets: how a browser opens a console websocket.

A browser cannot put an Authorization header on a websocket, and a bearer token in a
URL would end up in logs and history. So the page asks for a ticket with its token
(`POST .../console-ticket`), and opens the websocket with `?ticket=...` within
`TTL` seconds. A ticket works once, only for the user, lab, machine and kind it was
made for; only its sha256 is kept, in this process's memory (the process that serves
the websocket), since it lives for seconds. A user holds at most `PER_USER` unused
tickets: a new one past that replaces their own oldest, so no user can crowd out the
tickets of others (nor grow the process's memory).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.access.users import token_hash

TTL = 30.0
TICKET_PREFIX = "hc_"
PER_USER = 16  # unused tickets a user holds; a page opens one console at a time
_MAX = 10_000  # outstanding tickets; past that the oldest are dropped


@dataclass(frozen=True)
class Ticket:
    user: str
    lab: str
    machine: str
    kind: str  # "serial" or "vnc"
    expires: float  # on `clock`


class Tickets:
    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._tickets: dict[str, Ticket] = {}

    def issue(self, user: str, lab: str, machine: str, kind: str) -> str:
        ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            for key in [k for k, t in self._tickets.items() if t.expires <= now]:
                del self._tickets[key]
            theirs = [k for k, t in self._tickets.items() if t.user == user]
            for key in theirs[: max(0, len(theirs) - PER_USER + 1)]:
                del self._tickets[key]
            while len(self._tickets) >= _MAX:
                del self._tickets[next(iter(self._tickets))]
            self._tickets[token_hash(ticket)] = Ticket(user, lab, machine, kind, now + self.ttl)
        return ticket

    def redeem(self, ticket: str, lab: str, machine: str, kind: str) -> Ticket | None:
        """The ticket's grant if it is valid for this console, else None. Either way
        it is used up: a ticket tried on the wrong console is not tried again."""
        with self._lock:
            found = self._tickets.pop(token_hash(ticket), None)
        if found is None or found.expires <= self.clock():
            return None
        if (found.lab, found.machine, found.kind) != (lab, machine, kind):
            return None
        return found
