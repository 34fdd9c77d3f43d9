"""What stands between a password login and someone trying many passwords, or many at once.

- `LoginThrottle` counts failed logins per account and source, per source, and per
  account from anywhere; past a limit within a window, that key is locked until the
  window has passed: every attempt is refused (the right password too) without a
  password hash being computed.
- `HashGate` bounds how many scrypt hashes run at once (each takes 16 MiB and some
  50 ms of a core): a few more wait briefly, the rest are refused at once, so a flood of
  logins neither takes the memory nor the worker threads every other request needs.

Both live in the serving process's memory: they are about seconds and minutes, and a
database write per wrong password would itself be a way to fill the disk. A restart
forgets the counts; it does not forget a password.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv6Address, ip_address
from typing import ParamSpec, TypeVar

from lab.errors import ThrottledError

P = ParamSpec("P")
T = TypeVar("T")

# Per account and source, `attempts`; per source (many accounts tried from one place) and
# per account (one account tried from many places) a multiple of it.
SOURCE_FACTOR = 4
ACCOUNT_FACTOR = 10
# Keys remembered per kind. Every counted failure cost one password hash, and the gate
# caps those, so evicting a live count takes more failures than fit in a window.
MAX_KEYS = 100_000
_MAX_NAME = 64


def source_key(address: str) -> str:
    """The unit a source is counted by: an IPv4 address, or an IPv6 /64 (one host can
    hold a whole /64); anything else as given, cut short."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address[:_MAX_NAME]
    if isinstance(parsed, IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return f"{IPv6Address(int(parsed) >> 64 << 64)}/64"
    return str(parsed)


class LoginThrottle:
    def __init__(
        self,
        attempts: int = 5,
        window: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> first, n
        self._locked: OrderedDict[str, float] = OrderedDict()  # key -> until

    def _keys(self, name: str, source: str) -> list[tuple[str, int]]:
        account, where = name[:_MAX_NAME], source_key(source)
        return [
            (f"pair\0{account}\0{where}", self.attempts),
            (f"source\0{where}", self.attempts * SOURCE_FACTOR),
            (f"account\0{account}", self.attempts * ACCOUNT_FACTOR),
        ]

    def check(self, name: str, source: str) -> None:
        """ThrottledError while the account, the source or the pair is locked."""
        now = self.clock()
        with self._lock:
            until = max((self._locked.get(k, 0.0) for k, _ in self._keys(name, source)))
        if until > now:
            wait = until - now
            raise ThrottledError(
                "too many failed logins; try again later",
                hint=f"wait {int(wait // 60) + 1} minute(s), or ask an admin to check the"
                " password: lab user passwd NAME",
                retry_after=wait,
            )

    def failed(self, name: str, source: str) -> bool:
        """Count a failed login; True when it locked a key (the account, the source or
        the pair) for the rest of the window."""
        now = self.clock()
        locked = False
        with self._lock:
            for key, limit in self._keys(name, source):
                first, count = self._counts.pop(key, (now, 0))
                if now - first >= self.window:
                    first, count = now, 0
                count += 1
                if count >= limit:
                    self._locked.pop(key, None)
                    self._locked[key] = now + self.window
                    locked = True
                    count = 0
                self._counts[key] = (first, count)
            self._prune(now)
        return locked

    def succeeded(self, name: str, source: str) -> None:
        """A right password (not locked): this account's failures from here are forgiven."""
        key = self._keys(name, source)[0][0]
        with self._lock:
            self._counts.pop(key, None)

    def _prune(self, now: float) -> None:
        while self._locked and next(iter(self._locked.values())) <= now:
            self._locked.popitem(last=False)
        for table in (self._counts, self._locked):
            while len(table) > self.max_keys:
                table.popitem(last=False)


class HashGate:
    """At most `workers` password hashes at once, each in one of `workers` threads of its
    own; up to `waiting` more wait at most `wait` seconds for a turn; any more are refused
    at once (ThrottledError).

    Its own threads, because scrypt's 16 MiB, once freed, stays with the thread's malloc
    arena: hashed in any of the server's worker threads, it would in time cost 16 MiB in
    each of them."""

    def __init__(self, workers: int, waiting: int | None = None, wait: float = 2.0) -> None:
        self.workers = workers
        self.waiting = 2 * workers if waiting is None else waiting
        self.wait = wait
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-hash")
        self._lock = threading.Lock()
        self._inside = 0  # hashing or waiting to

    def run(self, hash_: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`hash_(*args, **kwargs)` in one of the gate's threads, when its turn comes."""
        with self._lock:
            full = self._inside >= self.workers + self.waiting
            if not full:
                self._inside += 1
        if full:
            raise _busy()
        try:
            started = threading.Event()

            def turn() -> T:
                started.set()
                return hash_(*args, **kwargs)

            future = self._pool.submit(turn)
            if not started.wait(self.wait) and future.cancel():
                raise _busy()
            return future.result()
        finally:
            with self._lock:
                self._inside -= 1


def _busy() -> ThrottledError:
    return ThrottledError(
        "too many logins at once; try again in a moment",
        hint="the server checks a few passwords at a time",
        retry_after=1.0,
    )
