"""`lab host check / refilter / add / list / drain / remove / prepare`: the servers labs
run on.

`check` looks at this machine (the host of LAB_LIBVIRT_URI, named `local`), the guests'
isolation included, which `refilter` mends; the others are added by their libvirt URI and
asked through libvirt alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from lab.cli import err, out
from lab.cli.acting import operation
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.driver.connection import Driver, Versions
from lab.driver.specs import VirtType
from lab.errors import LabError
from lab.host import hosts, images, isolation
from lab.host.facts import (
    MIN_DISK_BYTES,
    MIN_MEMORY_BYTES,
    HostFacts,
    choose_accel,
    gather_facts,
)
from lab.host.model import LOCAL, HostView
from lab.host.netfilter import GUEST_FIREWALL
from lab.placement import admission
from lab.settings import Accel, Settings, get_settings

_OK = "[green]ok[/]"
_LOW = "[yellow]low[/]"
_MISSING = "[bold red]missing[/]"
_UNREACHABLE = "[bold red]unreachable[/]"
_UNUSABLE = "[bold red]unusable[/]"
_UNKNOWN = "[yellow]unknown[/]"
_LEFT_OVER = "[yellow]left over[/]"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The hosts (servers) labs run on.", no_args_is_help=True)
    group.command("check")(check)
    group.command("refilter")(refilter)
    group.command("add")(add)
    group.command("list")(list_)
    group.command("drain")(drain)
    group.command("remove")(remove)
    group.command("prepare")(prepare)
    app.add_typer(group, name="host")


def check() -> None:
    """Show libvirt/QEMU versions, the accelerator and why, memory, disk, the guests'
    isolation (guest firewall, NIC filters) and tools.

    Exits 1 when something the orchestrator needs is missing or unreachable.
    """
    settings = get_settings()
    shown = table("what", "seen", "status", boxed=box.SIMPLE)
    problems: list[LabError] = []
    notes: list[str] = []

    versions = _versions(settings.libvirt_uri, problems)
    shown.add_row("libvirt URI", escape(settings.libvirt_uri), _OK if versions else _UNREACHABLE)
    if versions is not None:
        shown.add_row("libvirt", versions.libvirt, _OK)
        shown.add_row(versions.hypervisor_type, versions.hypervisor, _OK)
    else:
        shown.add_row("libvirt", "no answer (see the hint below)", _UNREACHABLE)

    facts = gather_facts(settings.home)
    _accel_row(shown, settings.accel, facts, problems)
    _capacity_rows(shown, facts)
    if versions is not None:
        _room_rows(shown, settings, problems)
        _isolation_rows(shown, settings, problems, notes)
    missing = False
    for tool in facts.tools:
        seen = tool.path or f"not found: apt-get install {tool.package}"
        shown.add_row(tool.program, escape(seen), _OK if tool.path else _MISSING)
        missing = missing or tool.path is None

    out.print(shown)
    for note in notes:
        err.print(f"[bold yellow]cannot tell:[/] {escape(note)}", soft_wrap=True)
    for problem in problems:
        err.print(f"[bold red]error:[/] {escape(problem.message)}", soft_wrap=True)
        if problem.hint:
            err.print(f"[bold yellow]hint:[/] {escape(problem.hint)}", soft_wrap=True)
    if missing:
        err.print("[bold yellow]hint:[/] install the missing packages (or run `make setup`)")
    if problems or missing:
        raise typer.Exit(1)


def _versions(uri: str, problems: list[LabError]) -> Versions | None:
    try:
        with Driver.open(uri) as driver:
            return driver.versions()
    except LabError as error:
        problems.append(error)
        return None


def _accel_row(table: Table, accel: Accel, facts: HostFacts, problems: list[LabError]) -> None:
    try:
        choice = choose_accel(accel, facts)
    except LabError as error:
        problems.append(error)
        table.add_row(f"accelerator (LAB_ACCEL={accel})", escape(error.message), _UNUSABLE)
        return
    name = "KVM" if choice.virt_type is VirtType.KVM else "TCG (software emulation)"
    seen = f"{name}, CPU {choice.cpu}: {choice.reason}"
    table.add_row(f"accelerator (LAB_ACCEL={accel})", escape(seen), _OK)


def _capacity_rows(table: Table, facts: HostFacts) -> None:
    mem = facts.memory_available_bytes
    table.add_row("memory available", _gib(mem), _OK if mem >= MIN_MEMORY_BYTES else _LOW)
    disk = facts.disk_free_bytes
    table.add_row(
        f"disk free under {escape(str(facts.disk_path))}",
        _gib(disk),
        _OK if disk >= MIN_DISK_BYTES else _LOW,
    )


def _room_rows(table: Table, settings: Settings, problems: list[LabError]) -> None:
    """What is free for more labs, and why: the arithmetic admission uses."""
    try:
        room = admission.host_room(settings)
    except LabError as error:
        problems.append(error)
        return
    table.add_row("memory promised to labs here", _gib(room.memory_promised_bytes), "")
    table.add_row("memory kept for the host", _gib(room.memory_reserve_bytes), "")
    free = room.memory_free_bytes
    table.add_row("memory free for new labs", _gib(free), _OK if free >= MIN_MEMORY_BYTES else _LOW)


def _isolation_rows(
    table: Table, settings: Settings, problems: list[LabError], notes: list[str]
) -> None:
    """Whether the guest firewall and every lab NIC's filter rules stand (they live in the
    kernel's netfilter tables, which a flush empties behind libvirt's back); what could
    not be read goes to `notes`."""
    try:
        seen = isolation.check(settings)
    except LabError as error:
        problems.append(error)
        return
    firewall = f"guest firewall ({' '.join(GUEST_FIREWALL)})"
    if seen.guest_firewall is None:
        table.add_row(firewall, "cannot tell (see below)", _UNKNOWN)
    elif seen.guest_firewall:
        table.add_row(firewall, "loaded: guests reach no host port", _OK)
    else:
        table.add_row(firewall, "not loaded", _MISSING)
    _standing_row(table, "NIC filters of lab machines", seen.filtered, seen.unfiltered, "filtered")
    _standing_row(table, "lab networks routed nowhere", seen.isolated, seen.routed, "isolated")
    if seen.orphans:
        table.add_row(
            "filter bindings of vanished machines",
            f"{len(seen.orphans)}: `lab host refilter` removes them",
            _LEFT_OVER,
        )
    notes.extend(seen.unknown)
    problems.extend(seen.problems())


def _standing_row(
    table: Table,
    what: str,
    standing: tuple[str, ...] | None,
    gone: tuple[str, ...] | None,
    word: str,
) -> None:
    """One row of rules that stand for `standing` and are gone for `gone` (None: unread)."""
    if standing is None or gone is None:
        table.add_row(what, "cannot tell (see below)", _UNKNOWN)
    elif gone:
        table.add_row(what, escape(f"rules gone: {', '.join(gone)}"), _MISSING)
    else:
        table.add_row(what, f"{len(standing)} {word}", _OK)


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"


def add(
    name: Annotated[str, typer.Argument(help="A short name for the server, e.g. lab2")],
    uri: Annotated[
        str,
        typer.Argument(help="Its libvirt URI, e.g. qemu+ssh://hromada-lab@lab2.centre/system"),
    ],
    ssh: Annotated[
        str | None,
        typer.Option(
            help="USER@HOST[:PORT] the service user logs in as by SSH to reach guests on it"
            " (default: a qemu+ssh URI's own)",
        ),
    ] = None,
    ssh_key: Annotated[
        Path | None, typer.Option(help="The SSH private key for --ssh (default: ~/.ssh's)")
    ] = None,
    ssh_known_hosts: Annotated[
        Path | None,
        typer.Option(help="Known hosts holding the server's SSH key (default: ~/.ssh's)"),
    ] = None,
    accel: Annotated[
        Accel,
        typer.Option(help="Its accelerator (auto: LAB_ACCEL; tcg where its KVM is in PVM mode)"),
    ] = Accel.AUTO,
) -> None:
    """Add a lab server, once its libvirtd (and its SSH) answer; make its storage pool."""
    settings = get_settings()
    with operation(settings, "host-add", f"host/{name}"):
        view = hosts.add_host(settings, name, uri, ssh, ssh_key, ssh_known_hosts, accel)
    out.print(
        f"host [bold]{escape(view.name)}[/] added: {_capacity(view)}; lab volumes under"
        f" {escape(view.disk_path or '-')}"
    )


def list_(as_json: JsonOption = False) -> None:
    """Every host with its accelerator, CPUs, memory, disk and labs; unreachable ones say why."""
    views = admission.host_views(get_settings())
    if as_json:
        from api.schemas import HostPublic

        print_models(HostPublic.of(view) for view in views)
        return
    columns = ("host", "state", "accelerator", "CPUs", "memory free", "for new labs")
    shown = table(*columns, "disk free", "labs", boxed=box.SIMPLE)
    for view in views:
        state = "draining" if view.draining else "open"
        shown.add_row(
            escape(view.name),
            state if view.reachable else f"{state}, {_UNREACHABLE}",
            (view.accel or "-").upper(),
            str(view.cpus or "-"),
            _amount(view.memory_available_bytes, view.memory_total_bytes),
            _amount(view.memory_free_for_labs_bytes),
            _amount(view.disk_free_bytes),
            escape(", ".join(view.labs)) or "-",
        )
    out.print(shown)
    for view in views:
        if view.problem:
            err.print(f"[bold]{escape(view.name)}[/]: {escape(view.problem)}", soft_wrap=True)
            if view.hint:
                err.print(f"  [bold yellow]hint:[/] {escape(view.hint)}", soft_wrap=True)


def drain(
    name: Annotated[str, typer.Argument(help="Host name (local: this machine)")],
    undo: Annotated[bool, typer.Option("--undo", help="Take new labs on it again")] = False,
) -> None:
    """Keep new labs off a host; its labs stay and work as before."""
    settings = get_settings()
    with operation(settings, "host-drain", f"host/{name}"):
        host = hosts.drain(settings, name, draining=not undo)
    if host.draining:
        out.print(f"host {escape(host.name)} is draining: its labs stay, new labs go elsewhere")
    else:
        out.print(f"host {escape(host.name)} takes new labs again")


def remove(name: Annotated[str, typer.Argument(help="Host name")]) -> None:
    """Forget an added host (refused while labs are on it); nothing on it is touched."""
    settings = get_settings()
    with operation(settings, "host-remove", f"host/{name}"):
        hosts.remove(settings, name)
    out.print(f"host {escape(name)} removed")


def refilter(
    name: Annotated[str, typer.Argument(help="Host name (local: this machine)")] = LOCAL,
) -> None:
    """Make the NIC filters of every lab machine on a host anew, after its netfilter
    tables were flushed (`lab host check` tells for this machine): at once for a running
    machine, at its next start for a stopped one; bindings of vanished machines go too."""
    settings = get_settings()
    with operation(settings, "host-refilter", f"host/{name}") as progress:
        done = isolation.refilter(settings, name, progress)
    out.print(f"filtered anew: {len(done.now)} running machine(s)", soft_wrap=True)
    if done.at_next_start:
        out.print(f"at their next start: {escape(', '.join(done.at_next_start))}", soft_wrap=True)
    if done.orphans:
        out.print(f"removed {len(done.orphans)} binding(s) of vanished machines")
    if done.busy:
        err.print(
            f"[bold red]error:[/] passed by, busy: {escape(', '.join(done.busy))}",
            soft_wrap=True,
        )
        err.print("[bold yellow]hint:[/] run `lab host refilter` again once they are done")
        raise typer.Exit(1)


def prepare(
    name: Annotated[str, typer.Argument(help="Host name (a server added with lab host add)")],
    image: Annotated[list[str], typer.Argument(help="Images to have on it (lab image list)")],
) -> None:
    """Copy images to a server ahead of its labs, each file checked by its sha256 (once
    per server: what it has already is not sent again)."""
    settings = get_settings()
    with operation(settings, "host-prepare", f"host/{name}") as progress:
        done = images.ensure_images(settings, name, image, progress)
    for item in done:
        how = f"copied in {item.seconds:.1f} s" if item.copied else "there already"
        out.print(f"  {escape(item.image):<24} {escape(item.volume)}  {item.size >> 20} MiB, {how}")


def _capacity(view: HostView) -> str:
    return (
        f"{(view.accel or '-').upper()}, {view.cpus} CPUs,"
        f" memory {_amount(view.memory_available_bytes, view.memory_total_bytes)},"
        f" disk {_amount(view.disk_free_bytes)}"
    )


def _amount(free: int | None, total: int | None = None) -> str:
    if free is None:
        return "-"
    return _gib(free) + (f" of {_gib(total)}" if total else "")
