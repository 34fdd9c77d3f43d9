"""Open admin connections to a lab's machines, kept warm between rounds of course checks.

A `Session` is one paramiko connection to one managed machine (lab.labs.guest, the lab's
key, the machine's pinned host key) and the testinfra Host over it. A round of checks takes
one per machine it checks and gives it back afterwards; `POOL` keeps it for the next round,
keyed by lab, machine, address and host key, and closes it after `IDLE_SECONDS` unused.

Why keep them: the trainer's board checks every seat again and again, and an SSH handshake
costs most of a second under TCG (the key exchange and the login in the guest), more than
all the commands of a small round; a command over an open connection costs one channel
(tens of milliseconds). `bench/checks.py` prints both, cold and warm. A kept connection may
have died meanwhile (the lab was reset: the guest's memory went back to before it was
made), so every taking first runs `sudo -n true` on it, bounded by a few seconds: that
proves the connection and that the lab may still act as root; on any error it is closed
and a fresh one made. A session that failed in use is closed, never given back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field

import paramiko
import testinfra.host

from lab.courses.testinfra_backend import LabBackend, host_over
from lab.errors import LabError
from lab.labs import guest
from lab.labs.guest import GuestAddress

IDLE_SECONDS = 60.0
_ALIVE_TIMEOUT = 5.0
_CONNECT_TIMEOUT = 5.0
_KEEP_PER_KEY = 2  # idle sessions kept per machine (a board's round and a trainee's at once)
_ROOT_PROBE = "sudo -n true"


class SudoRefusedError(LabError):
    """The lab's admin user may not act as root on the machine (any more)."""


@dataclass(eq=False)
class Session:
    key: Hashable
    machine: str
    addr: GuestAddress
    client: paramiko.SSHClient
    backend: LabBackend
    host: testinfra.host.Host
    used: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        self.client.close()


def session_key(lab: str, machine: str, addr: GuestAddress) -> Hashable:
    return (lab, machine, addr.host, addr.port, addr.host_key)


class SessionPool:
    def __init__(self, idle: float = IDLE_SECONDS) -> None:
        self.idle = idle
        self._lock = threading.Lock()
        self._kept: dict[Hashable, list[Session]] = {}
        self._reaper: threading.Thread | None = None
        self.made = 0  # connections opened (for the bench and the tests)
        self.reused = 0

    def take(self, lab: str, machine: str, addr: GuestAddress) -> Session:
        """A live session to `machine` where the lab may act as root.

        `GuestUnreachableError` or `HostKeyMismatchError` when it cannot be reached,
        `SudoRefusedError` when sudo refuses the admin user."""
        key = session_key(lab, machine, addr)
        while (kept := self._pop(key)) is not None:
            try:
                _check_root(kept)
            except LabError:
                kept.close()  # died meanwhile (a reset), or sudo went: try a fresh one
                continue
            kept.used = time.monotonic()
            with self._lock:
                self.reused += 1
            return kept
        client = guest.connect(addr, timeout=_CONNECT_TIMEOUT)
        backend = LabBackend(machine, client, addr)
        session = Session(key, machine, addr, client, backend, host_over(backend))
        with self._lock:
            self.made += 1
        try:
            _check_root(session)
        except BaseException:
            session.close()
            raise
        return session

    def give_back(self, session: Session) -> None:
        session.used = time.monotonic()
        if self.idle <= 0:
            session.close()
            return
        with self._lock:
            kept = self._kept.setdefault(session.key, [])
            if len(kept) >= _KEEP_PER_KEY:
                extra = session
            else:
                kept.append(session)
                extra = None
            if self._reaper is None:
                self._reaper = threading.Thread(
                    target=self._reap, name="course-sessions", daemon=True
                )
                self._reaper.start()
        if extra is not None:
            extra.close()

    def close_all(self) -> None:
        with self._lock:
            sessions = [s for kept in self._kept.values() for s in kept]
            self._kept.clear()
        for session in sessions:
            session.close()

    def _pop(self, key: Hashable) -> Session | None:
        with self._lock:
            kept = self._kept.get(key)
            if not kept:
                return None
            session = kept.pop()
            if not kept:
                del self._kept[key]
            return session

    def _reap(self) -> None:
        while True:
            time.sleep(max(0.05, self.idle / 4))
            now = time.monotonic()
            with self._lock:
                stale = []
                for key in list(self._kept):
                    fresh = [s for s in self._kept[key] if now - s.used < self.idle]
                    stale += [s for s in self._kept[key] if now - s.used >= self.idle]
                    if fresh:
                        self._kept[key] = fresh
                    else:
                        del self._kept[key]
                done = not self._kept
                if done:
                    self._reaper = None
            for session in stale:
                session.close()
            if done:
                return


def _check_root(session: Session) -> None:
    result = guest.run_on(
        session.client, session.addr, _ROOT_PROBE, timeout=_ALIVE_TIMEOUT, limit=4096
    )
    if result.exit_code != 0:
        raise SudoRefusedError(
            f"sudo refused the lab's admin user on {session.machine}",
            hint="the machine's sudo rules were changed: reset the lab",
        )


POOL = SessionPool()
