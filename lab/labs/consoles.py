"""The consoles of a lab's machines, for the web page: the serial console (text login)
and the VNC display of machines with `graphics: true`.

Both go through libvirt (lab.driver): the serial console is a libvirt console stream
(no pty path or host tty is handed out), and the VNC display's port is read from the
running domain's live XML; the display of a machine on a lab server is reached through
that server's SSH (a TCP forward to its loopback). Who may open which console is the
API's business.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import paramiko

from lab.driver.connection import Console, DomainState, Driver
from lab.errors import ConflictError, NotFoundError
from lab.host import targets
from lab.labs import guest, lifecycle
from lab.labs.plan import MachinePlan
from lab.settings import Settings


def machine_plan(settings: Settings, lab: str, machine: str) -> MachinePlan:
    """The lab's machine `machine`; NotFoundError for an unknown lab or machine."""
    plan = lifecycle.get_lab(settings, lab).plan
    for m in plan.machines:
        if m.name == machine:
            return m
    raise NotFoundError(
        f"lab '{lab}' has no machine '{machine}'",
        hint="its machines: " + ", ".join(m.name for m in plan.machines),
    )


class SerialSession:
    """A machine's serial console with the libvirt connection it runs on (both closed
    together). Blocking `read`/`write`, for worker threads; `close` from any thread."""

    def __init__(self, driver: Driver, console: Console) -> None:
        self._driver = driver
        self._console = console

    def read(self, size: int = 4096) -> bytes:
        return self._console.read(size)

    def write(self, data: bytes) -> None:
        self._console.write(data)

    def close(self) -> None:
        try:
            self._console.close()
        finally:
            self._driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_serial(settings: Settings, lab: str, machine: str) -> SerialSession:
    """Open the machine's serial console, taking it over from any other session."""
    domain = machine_plan(settings, lab, machine).domain
    # Over libvirt's own stream, so a machine on another server is reached the same way.
    driver = targets.connect(settings, lifecycle.get_lab(settings, lab).host)
    try:
        _running(driver, lab, machine, domain)
        return SerialSession(driver, driver.open_console(domain))
    except BaseException:
        driver.close()
        raise


def vnc_address(settings: Settings, lab: str, machine: str) -> tuple[str, int]:
    """Where the machine's VNC display listens on this host (host, port)."""
    plan = machine_plan(settings, lab, machine)
    if not plan.graphics:
        raise NotFoundError(
            f"machine '{machine}' of lab '{lab}' has no graphical console",
            hint="its serial console is there; a profile gives a display with graphics: true",
        )
    record = lifecycle.get_lab(settings, lab)
    if record.plan.remote:
        raise ConflictError(
            f"machine '{machine}' of lab '{lab}' runs on host {record.host}: its display is"
            " reached through that server",
            hint="open its console on the lab's page: it goes through the server",
        )
    with Driver.open(settings.libvirt_uri) as driver:
        return _display(driver, lab, machine, plan.domain)


def on_server(settings: Settings, lab: str) -> bool:
    """Whether lab `lab` runs on another server (its display is reached through it)."""
    return lifecycle.get_lab(settings, lab).plan.remote


class DisplaySession:
    """The VNC display of a machine on a lab server, through the server's SSH: a TCP
    forward to where the display listens there (its loopback), with the SSH connection it
    runs in (both closed together). Blocking `read`/`write`; `close` from any thread."""

    def __init__(self, jump: paramiko.SSHClient, channel: paramiko.Channel) -> None:
        self._jump = jump
        self._channel = channel

    def read(self, size: int = 4096) -> bytes:
        """What the display sent; b"" once it is gone."""
        try:
            return bytes(self._channel.recv(size))
        except (OSError, EOFError):
            return b""

    def write(self, data: bytes) -> None:
        self._channel.sendall(data)

    def close(self) -> None:
        try:
            self._channel.close()
        finally:
            self._jump.close()


def open_display(settings: Settings, lab: str, machine: str) -> DisplaySession:
    """The graphical console of a machine of a lab on a lab server, tunnelled through the
    server's SSH as the service user (the display listens on the server's loopback)."""
    plan = machine_plan(settings, lab, machine)
    record = lifecycle.get_lab(settings, lab)
    if not plan.graphics:
        raise NotFoundError(
            f"machine '{machine}' of lab '{lab}' has no graphical console",
            hint="its serial console is there; a profile gives a display with graphics: true",
        )
    if record.plan.jump is None:
        raise ConflictError(
            f"lab '{lab}' runs on this machine's host: its display is reached directly",
            hint="open its console on the lab's page: it is reached directly",
        )
    with targets.connect(settings, record.host) as driver:
        host, port = _display(driver, lab, machine, plan.domain)
    jump = guest.connect_jump(record.plan.jump)
    try:
        return DisplaySession(jump, guest.tunnel(jump, record.plan.jump, host, port, 10.0))
    except BaseException:
        jump.close()
        raise


def _display(driver: Driver, lab: str, machine: str, domain: str) -> tuple[str, int]:
    _running(driver, lab, machine, domain)
    found = driver.vnc_endpoint(domain)
    if found is None:
        raise ConflictError(
            f"machine '{machine}' of lab '{lab}' shows no VNC display now",
            hint="start the lab again: its display is given a port when it starts",
        )
    return found


def _running(driver: Driver, lab: str, machine: str, domain: str) -> None:
    state = driver.domain_state(domain) if driver.domain_exists(domain) else DomainState.MISSING
    if state is not DomainState.RUNNING:
        raise ConflictError(
            f"machine '{machine}' of lab '{lab}' is {state}, so its console is silent",
            hint="start the lab (or reset it) first",
        )
