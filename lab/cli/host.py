"""`lab host check`: what the orchestrator sees on this host, and whether it is enough."""

from __future__ import annotations

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from lab.cli import err, out
from lab.driver.connection import Driver, Versions
from lab.driver.specs import VirtType
from lab.errors import LabError
from lab.host.facts import (
    MIN_DISK_BYTES,
    MIN_MEMORY_BYTES,
    HostFacts,
    choose_accel,
    gather_facts,
)
from lab.placement import admission
from lab.settings import Accel, Settings, get_settings

_OK = "[green]ok[/]"
_LOW = "[yellow]low[/]"
_MISSING = "[bold red]missing[/]"
_UNREACHABLE = "[bold red]unreachable[/]"
_UNUSABLE = "[bold red]unusable[/]"


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The host the labs run on.", no_args_is_help=True)
    group.command("check")(check)
    app.add_typer(group, name="host")


def check() -> None:
    """Show libvirt/QEMU versions, the accelerator and why, memory, disk and tools.

    Exits 1 when something the orchestrator needs is missing or unreachable.
    """
    settings = get_settings()
    table = Table(box=box.SIMPLE, show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("seen")
    table.add_column("status")
    problems: list[LabError] = []

    versions = _versions(settings.libvirt_uri, problems)
    table.add_row("libvirt URI", escape(settings.libvirt_uri), _OK if versions else _UNREACHABLE)
    if versions is not None:
        table.add_row("libvirt", versions.libvirt, _OK)
        table.add_row(versions.hypervisor_type, versions.hypervisor, _OK)
    else:
        table.add_row("libvirt", "no answer (see the hint below)", _UNREACHABLE)

    facts = gather_facts(settings.home)
    _accel_row(table, settings.accel, facts, problems)
    _capacity_rows(table, facts)
    if versions is not None:
        _room_rows(table, settings, problems)
    missing = False
    for tool in facts.tools:
        seen = tool.path or f"not found: apt-get install {tool.package}"
        table.add_row(tool.program, escape(seen), _OK if tool.path else _MISSING)
        missing = missing or tool.path is None

    out.print(table)
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


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"
