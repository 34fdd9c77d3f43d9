"""`lab prepare / provision / apply / test / verification`: a lab's software stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lab.cli import out
from lab.cli.acting import operation
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.errors import NotFoundError
from lab.labs import lifecycle
from lab.settings import get_settings
from lab.software import stack
from lab.software import verification as verifying
from lab.software.provisioning import ProvisionResult

_OUTCOME_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}


def prepare(profile: Annotated[Path, typer.Argument(help="Profile YAML file")]) -> None:
    """Bake the packages of the profile's roles into images (uses the Debian mirror once;
    then `up` and provisioning need no network)."""
    settings = get_settings()
    with operation(settings, "prepare", f"profile/{profile.stem}") as progress:
        images = stack.prepare(settings, profile, progress)
    for machine, image in images.items():
        out.print(f"  {machine:<16} {image.name}  ({image.digest[:12]})")


def provision(name: Annotated[str, typer.Argument(help="Lab name")]) -> None:
    """Apply the lab's roles again (idempotent: a second run changes nothing)."""
    settings = get_settings()
    with operation(settings, "provision", f"lab/{name}") as progress:
        result = stack.provision(settings, name, progress)
    _summary(result)
    out.print(f"verify it again: lab test {name}")


def apply(
    name: Annotated[str, typer.Argument(help="Lab name")],
    playbook: Annotated[
        Path | None,
        typer.Argument(help="An Ansible playbook (run inside the lab's machines, not here)"),
    ] = None,
    package: Annotated[Path | None, typer.Option(help="A .deb package to install")] = None,
    machine: Annotated[str | None, typer.Option(help="Only this machine")] = None,
) -> None:
    """Put software under test onto a lab: your playbook, or one .deb package.

    The playbook runs inside each machine with the machine's own ansible-core, so
    `localhost` there is the lab's machine, never this server."""
    settings = get_settings()
    with operation(settings, "apply", f"lab/{name}") as progress:
        result = stack.apply(
            settings, name, playbook=playbook, package=package, machine=machine, progress=progress
        )
    _summary(result)


def test(
    name: Annotated[str, typer.Argument(help="Lab name")],
    junit: Annotated[Path | None, typer.Option(help="Write the JUnit XML report here")] = None,
    json_: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON here")
    ] = None,
) -> None:
    """Run the roles' tests and the profile's checks; the exit code is the verdict."""
    settings = get_settings()
    with operation(settings, "test", f"lab/{name}") as progress:
        verification = stack.test(settings, name, progress)
    if junit is not None and verification.junit:
        verifying.copy_junit(verification, junit)
    if json_ is not None:
        verifying.write_json(verification, json_)
    _print_results(verification)
    if not verification.passed:
        raise typer.Exit(1)


def verification(
    name: Annotated[str, typer.Argument(help="Lab name")], as_json: JsonOption = False
) -> None:
    """The lab's latest verification (what `lab test` found last), without running it
    again; the exit code is its verdict."""
    found = verifying.latest(lifecycle.get_lab(get_settings(), name).plan)
    if found is None:
        raise NotFoundError(f"lab '{name}' has not been tested yet", hint=f"lab test {name}")
    if as_json:
        from api.schemas import VerificationPublic

        print_models(VerificationPublic.of(found))
    else:
        _print_results(found)
    if not found.passed:
        raise typer.Exit(1)


def _print_results(verification: verifying.Verification) -> None:
    name = verification.lab
    shown = table("role", "test", "machine", "result", "s")
    for r in verification.results:
        style = _OUTCOME_STYLE[r.outcome]
        shown.add_row(r.role, r.name, r.machine, f"[{style}]{r.outcome}[/]", f"{r.seconds:.1f}")
    out.print(shown)
    for r in verification.failed:
        out.print(f"[red]{escape(r.role)}: {escape(r.name)} [{escape(r.machine)}][/]")
        out.print("  " + escape(r.message).replace("\n", "\n  "))
    verdict = "[green]passed[/]" if verification.passed else "[red]FAILED[/]"
    out.print(
        f"lab {name}: {verdict} ({len(verification.results)} tests, "
        f"{len(verification.failed)} failed, {verification.seconds:.1f} s)"
    )


def _summary(result: ProvisionResult) -> None:
    for machine in sorted(result.ok):
        ok, changed = result.ok.get(machine, 0), result.changed.get(machine, 0)
        out.print(f"  {machine:<16} ok={ok} changed={changed}")
    roles = ", ".join(f"{role} {sec:.0f} s" for role, sec in result.role_seconds.items())
    out.print(f"done in {result.seconds:.0f} s" + (f" ({roles})" if roles else ""))


def register(app: typer.Typer) -> None:
    app.command()(prepare)
    app.command()(provision)
    app.command()(apply)
    app.command()(test)
    app.command()(verification)
