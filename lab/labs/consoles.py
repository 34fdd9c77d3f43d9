"""The consoles of a lab's machines, for the web page: the serial console (text login)
and the VNC display of machines with `graphics: true`.

Both go through libvirt (lab.driver): the serial console is a libvirt console stream
(no pty path or host tty is handed out), and the VNC display's port is read from the
running domain's live XML. Who may open which console is the API's business.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from lab.driver.connection import Console, DomainState, Driver
from lab.errors import ConflictError, NotFoundError
from lab.host import targets
from lab.labs import lifecycle
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
    driver = Driver.open(targets.uri_of(settings, lifecycle.get_lab(settings, lab).host))
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
            f"machine '{machine}' of lab '{lab}' runs on host {record.host}: its graphical"
            " console is shown for labs on this machine's host only, so far",
            hint="its serial console works: open it on the lab's page",
        )
    with Driver.open(settings.libvirt_uri) as driver:
        _running(driver, lab, machine, plan.domain)
        found = driver.vnc_endpoint(plan.domain)
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
