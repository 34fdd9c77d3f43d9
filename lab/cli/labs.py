"""`lab up / list / status / start / stop / ssh / down / reconcile`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lab.cli import out
from lab.cli.acting import operation
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.commands import interactive
from lab.errors import LabError
from lab.host.model import LOCAL
from lab.labs import lifecycle, ssh_config
from lab.labs.plan import profile_name
from lab.profile import load_profile
from lab.settings import get_settings
from lab.templates import clones


def up(
    profile: Annotated[
        Path | None, typer.Argument(help="Profile YAML file (not with --template)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Lab name (default: the community's)")] = None,
    provision: Annotated[
        bool, typer.Option(help="Apply the roles and run the tests once the machines answer")
    ] = True,
    template: Annotated[
        str | None,
        typer.Option(help="Clone the lab from this template instead (`lab template list`)"),
    ] = None,
    host: Annotated[str, typer.Option(help="The lab host it runs on (`lab host list`)")] = LOCAL,
) -> None:
    """Bring a profile up as a lab: machines answering on SSH, roles applied, tests passed.
    Or clone one from a template: verified in seconds."""
    settings = get_settings()
    if profile is not None and template is None:
        # The lab's name is the community's unless given: read as `up` reads it.
        lab = name or profile_name(load_profile(profile))
        with operation(settings, "up", f"lab/{lab}") as progress:
            record = lifecycle.up(settings, profile, name, progress, provision=provision, host=host)
    elif template is not None and profile is None and name is not None:
        with operation(settings, "clone", f"lab/{name}") as progress:
            record = clones.clone(settings, template, name, progress, host=host)
    elif template is not None and profile is None:
        raise LabError(
            "a lab cloned from a template needs --name",
            hint=f"lab up --template {template} --name NAME",
        )
    else:
        raise LabError(
            "give either a profile or --template, not both and not neither",
            hint="lab up PROFILE [--name NAME] | lab up --template T --name NAME",
        )
    out.print(f"lab [bold]{record.name}[/] is up:")
    for machine in record.plan.machines:
        out.print(
            f"  {machine.name:<16} {machine.management_address}"
            f"   lab ssh {record.name} {machine.name}"
        )


def list_(as_json: JsonOption = False) -> None:
    """The labs that exist."""
    labs = lifecycle.list_labs(get_settings())
    if as_json:
        from api.schemas import LabPublic

        print_models(LabPublic.of(lab) for lab in labs)
        return
    shown = table("lab", "profile", "host", "status", "machines", "template", "created")
    for lab in labs:
        shown.add_row(
            lab.name,
            lab.profile,
            lab.host,
            lab.status,
            str(len(lab.plan.machines)),
            lab.template or "-",
            lab.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(shown)


def status(name: str, as_json: JsonOption = False) -> None:
    """Per machine: power state, addresses, whether SSH and the guest agent answer.
    Exits 1 when a machine does not answer (with --json too)."""
    report = lifecycle.status(get_settings(), name)
    if as_json:
        from api.schemas import LabStatusPublic

        print_models(LabStatusPublic.of(report))
    else:
        _print_status(report)
    if not all(m.reachable for m in report.machines):
        raise typer.Exit(1)


def _print_status(report: lifecycle.LabReport) -> None:
    lab = report.lab
    cloned = f", cloned from template {lab.template}" if lab.template else ""
    out.print(f"lab [bold]{lab.name}[/] ({lab.profile}{cloned}): {lab.status}")
    shown = table("machine", "state", "addresses", "ssh", "agent")
    for m in report.machines:
        shown.add_row(
            m.name,
            m.state,
            ", ".join(f"{ip} ({net})" for net, ip in m.addresses),
            "yes" if m.reachable else "no",
            "yes" if m.agent else "no",
        )
    out.print(shown)


def start(name: str) -> None:
    """Start a stopped lab and wait until every machine answers."""
    settings = get_settings()
    with operation(settings, "start", f"lab/{name}") as progress:
        lifecycle.start(settings, name, progress)
    out.print(f"lab {name} is running")


def stop(name: str) -> None:
    """Shut a lab's machines down; disks and networks stay."""
    settings = get_settings()
    with operation(settings, "stop", f"lab/{name}") as progress:
        lifecycle.stop(settings, name, progress)
    out.print(f"lab {name} is stopped")


def ssh(
    name: str,
    machine: str,
    command: Annotated[list[str] | None, typer.Argument(help="Command to run (after --)")] = None,
) -> None:
    """A shell on a machine, or one command (its exit code is passed through)."""
    settings = get_settings()
    lifecycle.guest_address(settings, name, machine)  # a managed machine of the lab
    # The lab's ssh_config: its key, the machine's pinned host key, and for a lab on a
    # lab server the jump through that server.
    config = ssh_config.write(lifecycle.get_lab(settings, name).plan)
    argv: list[str | Path] = ["ssh", "-F", config, machine]
    if command:
        argv += command  # ssh stops parsing options at the destination
    code = interactive(argv, hint="install the OpenSSH client: apt-get install openssh-client")
    raise typer.Exit(code)


def down(
    name: Annotated[str | None, typer.Argument(help="Lab to remove")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every lab")] = False,
) -> None:
    """Remove a lab: domains, networks, disks, seeds and keys. Idempotent."""
    settings = get_settings()
    if all_ == (name is not None):
        raise LabError("name one lab, or give --all", hint="lab down NAME | lab down --all")
    names = [lab.name for lab in lifecycle.list_labs(settings)] if all_ else [name or ""]
    for lab in names:
        with operation(settings, "down", f"lab/{lab}") as progress:
            removed = progress.result(lifecycle.down(settings, lab, progress))
        out.print(f"lab {lab}: " + ("removed" if removed else "nothing to remove"))


def reconcile() -> None:
    """After a crash: make the state store and libvirt agree, removing orphans."""
    settings = get_settings()
    with operation(settings, "reconcile", "labs") as progress:
        report = progress.result(lifecycle.reconcile(settings, progress))
    for line in report.removed:
        out.print(f"removed {line}")
    for lab in report.kept:
        out.print(f"kept lab {lab} (complete)")
    for lab in report.busy:
        out.print(f"skipped lab {lab}: an operation on it is running")
    for lab in report.unreachable:
        out.print(f"left lab {lab} as it is: its host does not answer")
    if not report.removed:
        out.print("state and libvirt agree; nothing to remove")


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command("list")(list_)
    app.command()(status)
    app.command()(start)
    app.command()(stop)
    app.command(context_settings={"allow_interspersed_args": False})(ssh)
    app.command()(down)
    app.command()(reconcile)
