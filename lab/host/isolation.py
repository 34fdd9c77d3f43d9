"""Whether a host still isolates its lab guests, and their NIC filters made anew.

The guest firewall and the NIC filters live in the kernel's netfilter tables
(lab.host.netfilter), where a flush takes them away behind libvirt's back. `check` reads
what stands on this machine (the host of `LAB_LIBVIRT_URI`): the guest firewall, and for
each lab machine whose NIC filter binding libvirt holds, whether the binding's rules are
still there, and whether libvirt's rules still keep each running lab network from being
routed to or from. Reading netfilter tables takes root; without it, or without the programs,
the check says it cannot tell rather than guess.

`refilter` makes the bindings of every lab machine on a host anew, through its libvirt (no
root needed; a lab server's too): removed and made again at once for a machine that runs,
so that libvirt builds their rules now; removed for a stopped one, which its next start or
restore makes paused, before the guest runs. Bindings left by machines that no longer
exist go too. Each lab is refiltered under its lock, so no reset or start of it runs
meanwhile.
"""

from __future__ import annotations

import os
import shutil

from lab import commands
from lab.base import Frozen, Progress, quiet
from lab.driver.connection import HAS_TAPS, Driver
from lab.driver.filter_bindings import FilterBinding, bindings_of
from lab.errors import ConflictError, HostError, LabError, NotFoundError
from lab.host import targets
from lab.host.model import LOCAL
from lab.host.netfilter import (
    GUEST_FIREWALL,
    filtered_taps,
    guest_firewall_stands,
    isolated_bridges,
)
from lab.host.uris import is_local
from lab.labs.locks import lab_lock
from lab.labs.naming import bridge_name, split_name
from lab.settings import Settings

# How long refilter waits for an operation on a lab to end before it passes the lab by.
LOCK_WAIT = 60.0
_SBIN = ("/usr/sbin", "/sbin")
_FLUSHED = "the host's netfilter tables were flushed?"
_TIMEOUT = 30.0


class Isolation(Frozen):
    """What stands of the guests' isolation on this host.

    `guest_firewall`, `filtered`/`unfiltered` together and `isolated`/`routed` together
    are None when they could not be read (`unknown` says why). `unfiltered` names the
    machines ("lab/machine") that libvirt believes filtered but whose rules are gone: a
    spoofing guest goes unnoticed there, and a stopped one would start so. `routed` names
    the running lab networks ("lab/network") whose rules against routing are gone.
    `orphans` are taps of bindings whose machine no longer exists."""

    guest_firewall: bool | None
    filtered: tuple[str, ...] | None
    unfiltered: tuple[str, ...] | None
    orphans: tuple[str, ...]
    isolated: tuple[str, ...] | None = None
    routed: tuple[str, ...] | None = None
    unknown: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems()

    def problems(self) -> tuple[HostError, ...]:
        """What does not stand, each with the way back."""
        found: list[HostError] = []
        if self.guest_firewall is False:
            table = " ".join(GUEST_FIREWALL)
            found.append(
                HostError(
                    f"the guest firewall (table {table}) is not loaded: lab guests reach the"
                    " host's ports",
                    hint="load it again: systemctl reload hromada-lab-firewall (or"
                    " nft -f /etc/hromada-lab/guests.nft)",
                )
            )
        if self.unfiltered:
            found.append(
                HostError(
                    f"the NIC filter rules of {len(self.unfiltered)} lab machine(s) are gone"
                    f" ({_FLUSHED}): {', '.join(self.unfiltered)}; their guests can send from"
                    " any address",
                    hint="make them again: lab host refilter",
                )
            )
        if self.routed:
            found.append(
                HostError(
                    f"libvirt's rules that keep {len(self.routed)} lab network(s) from being"
                    f" routed are gone ({_FLUSHED}): {', '.join(self.routed)}",
                    hint="restart libvirtd, which adds them again as it starts (its guests"
                    " keep running): systemctl restart libvirtd",
                )
            )
        return tuple(found)


class Refiltered(Frozen):
    """What `refilter` did: machines filtered anew now, machines whose bindings their next
    start makes, bindings of vanished machines removed, labs passed by while busy."""

    now: tuple[str, ...]
    at_next_start: tuple[str, ...]
    orphans: tuple[str, ...]
    busy: tuple[str, ...]


def check(settings: Settings) -> Isolation:
    """Read this host's netfilter tables, libvirt's filter bindings and networks (see the
    module)."""
    unknown: list[str] = []
    if not is_local(settings.libvirt_uri):
        reason = f"{settings.libvirt_uri} is not this machine's libvirt: its tables are elsewhere"
        return Isolation(
            guest_firewall=None, filtered=None, unfiltered=None, orphans=(), unknown=(reason,)
        )
    firewall = _read(["nft", "list", "table", *GUEST_FIREWALL], unknown)
    with Driver.open(settings.libvirt_uri) as driver:
        networks = [n for n in driver.list_networks(settings.prefix) if _active(driver, n)]
        libvirt_major = int(driver.versions().libvirt.split(".")[0])
        held = dict(driver.filter_bindings())
        needs: dict[str, tuple[FilterBinding, ...]] = {}
        running: set[str] = set()
        for name in driver.list_domains(settings.prefix):
            try:
                needs[name] = bindings_of(driver.domain_xml(name))
                if needs[name] and driver.domain_state(name) in HAS_TAPS:
                    running.add(name)
            except NotFoundError:
                continue  # taken down meanwhile
    orphans = tuple(
        tap
        for tap, owner in sorted(held.items())
        if owner.startswith(settings.prefix) and owner not in needs
    )
    taps = [(name, b.portdev) for name, bindings in needs.items() for b in bindings]
    filtered: tuple[str, ...] | None = None
    unfiltered: tuple[str, ...] | None = None
    listing = _read(["ebtables", "-t", "nat", "-L"], unknown) if taps else ""
    if listing is not None:
        standing = filtered_taps(listing)
        bound = {name for name, tap in taps if tap in held or name in running}
        # held without its rules, or not held at all while the machine runs
        gone = {name for name, tap in taps if name in bound and tap not in standing}
        filtered = tuple(sorted(_member(settings, n) for n in bound - gone))
        unfiltered = tuple(sorted(_member(settings, n) for n in gone))
    isolated, routed = _routing(settings, networks, libvirt_major, unknown)
    return Isolation(
        guest_firewall=None if firewall is None else guest_firewall_stands(firewall),
        filtered=filtered,
        unfiltered=unfiltered,
        orphans=orphans,
        isolated=isolated,
        routed=routed,
        unknown=tuple(unknown),
    )


def _routing(
    settings: Settings, networks: list[str], libvirt_major: int, unknown: list[str]
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(isolated, routed) of the running lab networks `networks`, by libvirt's rules."""
    if not networks:
        return (), ()
    if libvirt_major >= 10:  # its nftables backend may hold them, in rules of its own
        unknown.append(f"libvirt {libvirt_major} may keep network rules in nftables: not read")
        return None, None
    listing = _read(["iptables", "-S"], unknown)
    if listing is None:
        return None, None
    standing = isolated_bridges(listing)
    seen = {_member(settings, n): bridge_name(n) in standing for n in networks}
    return (
        tuple(sorted(n for n, ok in seen.items() if ok)),
        tuple(sorted(n for n, ok in seen.items() if not ok)),
    )


def _active(driver: Driver, network: str) -> bool:
    try:
        return driver.network_active(network)
    except NotFoundError:
        return False  # taken down meanwhile


def refilter(settings: Settings, host: str = LOCAL, progress: Progress = quiet) -> Refiltered:
    """Make the NIC filter bindings of every lab machine on host `host` (this machine, or
    a lab server, through its libvirt) anew (see the module); a lab busy for longer than
    LOCK_WAIT is passed by and named."""
    now: list[str] = []
    later: list[str] = []
    busy: list[str] = []
    with targets.connect(settings, host) as driver:
        existing = driver.list_domains(settings.prefix)
        labs: dict[str, list[str]] = {}
        for name in existing:
            parts = split_name(settings.prefix, name)
            if parts is not None:
                labs.setdefault(parts[0], []).append(name)
        for lab, domains in sorted(labs.items()):
            try:
                with lab_lock(settings, lab, wait=LOCK_WAIT):
                    for domain in domains:
                        made = driver.refilter_domain(domain)
                        (now if made else later).append(_member(settings, domain))
            except ConflictError:
                busy.append(lab)
                progress("lab", f"{lab}: busy with another operation, passed by")
                continue
            progress("lab", f"{lab}: NIC filters made anew")
        orphans = [
            tap
            for tap, owner in driver.filter_bindings()
            if owner.startswith(settings.prefix) and owner not in existing
        ]
        for tap in orphans:
            driver.remove_filter_binding(tap)
    return Refiltered(
        now=tuple(now), at_next_start=tuple(later), orphans=tuple(orphans), busy=tuple(busy)
    )


def _member(settings: Settings, libvirt_name: str) -> str:
    """A libvirt object of ours as its lab and member: `lab/machine`, `lab/network`."""
    parts = split_name(settings.prefix, libvirt_name)
    return f"{parts[0]}/{parts[1]}" if parts else libvirt_name


def _read(argv: list[str], unknown: list[str]) -> str | None:
    """What `argv` printed; None, with the reason added to `unknown`, when it could not
    be read (the program missing, or refused: reading netfilter tables takes root)."""
    path = shutil.which(argv[0], path=os.pathsep.join([os.environ.get("PATH", ""), *_SBIN]))
    if path is None:
        unknown.append(f"{argv[0]} is not installed, so its rules cannot be read")
        return None
    try:
        proc = commands.complete([path, *argv[1:]], timeout=_TIMEOUT)
    except LabError as error:
        unknown.append(error.message)
        return None
    if proc.returncode == 0:
        return proc.stdout.decode("utf-8", errors="replace")
    said = commands.tail(proc.stderr) or f"exit code {proc.returncode}"
    if argv[0] == "nft" and "No such file or directory" in said:
        return ""  # no such table: nothing stands
    if "ermission denied" in said or "not permitted" in said:
        said = "reading netfilter tables takes root"
    said = said.splitlines()[0]
    unknown.append(f"`{' '.join(argv)}` failed: {said}")
    return None
