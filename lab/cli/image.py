"""`lab image ...`: build, import, list, show and remove base images."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lab.cli import err, out
from lab.cli.acting import operation
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.images import ImageStore, profile_stanza
from lab.images.build import Progress as ProgressFn
from lab.images.imports import name_from_file
from lab.images.inspection import DiskInspection, os_product, os_version
from lab.settings import Settings, get_settings

group = typer.Typer(
    help="Base images: build from recipes, import, list, remove.", no_args_is_help=True
)


class OutputFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="image")


def _store() -> ImageStore:
    return ImageStore(get_settings())


@contextmanager
def _progress() -> Iterator[ProgressFn]:
    """A spinner with the current step and its time on a terminal; plain lines otherwise."""
    started = time.monotonic()
    if not err.is_terminal:

        def line(step: str) -> None:
            err.print(f"[{time.monotonic() - started:6.1f}s] {escape(step)}")

        yield line
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting")
        step_started = [started]

        def update(step: str) -> None:
            now = time.monotonic()
            previous = bar.tasks[0].description
            if previous != "starting":
                bar.console.print(f"[green]✓[/] {previous} [dim]({now - step_started[0]:.1f} s)[/]")
            step_started[0] = now
            bar.update(task, description=escape(step))

        yield update
        last = bar.tasks[0].description
    err.print(f"[green]✓[/] {last} [dim](total {time.monotonic() - started:.1f} s)[/]")


@group.command("build")
def build(
    recipe: Annotated[Path, typer.Argument(help="Recipe file, e.g. images/debian-12.yaml")],
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date")] = False,
) -> None:
    """Build an image from a recipe (cached: an unchanged recipe is not built again)."""
    from lab.images.recipe import load_recipe

    settings = get_settings()
    name = load_recipe(recipe).name
    with _progress() as step, _recorded(settings, "image-build", name, step) as progress:
        image = ImageStore(settings).build(recipe, progress, force=force)
    out.print(f"{image.name} {image.digest[:12]}")


@group.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="A disk (qcow2, raw, vmdk, vdi, vhdx, vhd), an .ova or an .ovf")
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Name to store it under (default: the file's)")
    ] = None,
) -> None:
    """Import a machine that boots by its own bootloader: one image per disk, then the
    profile stanza that runs it."""
    name = name or name_from_file(file)
    settings = get_settings()
    with _progress() as step, _recorded(settings, "image-import", name, step) as progress:
        result = ImageStore(settings).import_file(file, name, progress)
    for image in result.images:
        out.print(f"{escape(image.name)} {image.digest[:12]} {_human(image.virtual_size)}")
    for note in result.hints.notes if result.hints else ():
        err.print(f"note: {escape(note)}")
    out.print("\n# for the profile's machines: (set the networks and addresses)")
    out.print(escape(profile_stanza(result, name)), end="", soft_wrap=True)


@group.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List stored images."""
    if as_json:  # as GET /api/v1/images: with what uses each image
        from api.schemas import ImagePublic
        from lab.images.usage import images_with_users

        print_models(ImagePublic.of_use(u) for u in images_with_users(get_settings()))
        return
    images = _store().list()
    if not images:
        out.print("no images yet; build one: lab image build images/debian-12.yaml")
        return
    shown = table("NAME", "DIGEST", "BOOT", "SIZE", "DISK", "CREATED")
    for image in images:
        shown.add_row(
            escape(image.name),
            image.digest[:12],
            image.boot.value,
            _human(image.virtual_size),
            _human(image.disk_size),
            image.created.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(shown)


@group.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Image name")],
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.YAML,
    as_json: JsonOption = False,
) -> None:
    """Show an image's metadata (all of it, with --output; --json: the API's fields)."""
    store = _store()
    image = store.get(name)
    if as_json:
        from api.schemas import ImagePublic
        from lab.images.usage import ImageUse, users_of

        used = ImageUse(image=image, used_by=users_of(get_settings(), image.name))
        print_models(ImagePublic.of_use(used))
        return
    data = image.model_dump(mode="json") | {"path": str(store.disk_path(image))}
    if output is OutputFormat.JSON:
        out.print_json(json.dumps(data))
    else:
        text = yaml.safe_dump(data, sort_keys=False, width=1000)
        out.print(escape(text), end="", soft_wrap=True)


@group.command("inspect")
def inspect(
    names: Annotated[
        list[str], typer.Argument(help="Image name; several: the disks of one machine")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the inspection as JSON")] = False,
    into: Annotated[
        Path | None,
        typer.Option("--into", help="Write the software list into this profile file"),
    ] = None,
    machine: Annotated[
        str | None, typer.Option("--machine", help="The machine of --into whose list it is")
    ] = None,
) -> None:
    """What is on an image's disk, read without booting it (virt-inspector): operating
    system, version, installed packages; --into writes them as a machine's software list."""
    from lab.errors import InvalidError
    from lab.images.inspect import inspect_images
    from lab.images.inspection import software_of
    from lab.profile.edits import write_software

    if (into is None) != (machine is None):
        raise InvalidError(
            "--into and --machine go together",
            hint="lab image inspect IMAGE --into PROFILE.yaml --machine MACHINE",
        )
    with _progress() as progress:
        inspection = inspect_images(get_settings(), names, progress)
    software = software_of(inspection)
    if as_json:
        data = inspection.model_dump(mode="json") | {"software": software.model_dump(mode="json")}
        out.print_json(json.dumps(data))
    else:
        _print_inspection(inspection, software.notes)
    if into is not None and machine is not None:
        kept, written = write_software(into, machine, software.entries)
        err.print(
            f"wrote {written} software entries of {escape(machine)} into {escape(str(into))}"
            + (f" (kept {kept} entries described by hand)" if kept else ""),
            soft_wrap=True,
        )


def _print_inspection(inspection: DiskInspection, software_notes: tuple[str, ...]) -> None:
    names = ", ".join(inspection.images)
    if not inspection.systems:
        out.print(f"{escape(names)}: no operating system found")
    for system in inspection.systems:
        info = system.os
        product = os_product(info)[0]
        facts = [f"{product} {os_version(info) or '(version unknown)'}"]
        facts.append(info.arch or "architecture unknown")
        if info.hostname:
            facts.append(f"hostname {info.hostname}")
        out.print(
            f"[bold]{escape(names)}[/] {escape(info.root)}: {escape(', '.join(facts))};"
            f" {len(system.packages)} packages",
            soft_wrap=True,
        )
    for note in (
        *inspection.notes,
        *(n for s in inspection.systems for n in s.notes),
        *software_notes,
    ):
        out.print(f"note: {escape(note)}", soft_wrap=True)
    for system in inspection.systems:
        if not system.packages:
            continue
        if len(inspection.systems) > 1:
            out.print(f"\n[bold]{escape(system.os.root)}[/]")
        windows = any(p.display_name or p.publisher for p in system.packages)
        listed = table("PACKAGE", "VERSION", "PUBLISHER" if windows else "ARCH")
        for package in system.packages:
            listed.add_row(
                escape(package.display_name or package.name),
                escape(package.full_version),
                escape(package.publisher if windows else package.arch),
            )
        out.print(listed)


@group.command("rm")
def rm(name: Annotated[str, typer.Argument(help="Image name")]) -> None:
    """Remove an image name (and its disk when no other name uses it). Refused while in use."""
    from lab.images import usage

    settings = get_settings()
    with _recorded(settings, "image-rm", name, lambda _: None):
        usage.remove(settings, name)
    out.print(f"removed {escape(name)}")


@contextmanager
def _recorded(settings: Settings, kind: str, name: str, step: ProgressFn) -> Iterator[ProgressFn]:
    """The image command as operation `kind` on `image/NAME`: each step shown by `step`
    (the spinner, or plain lines) and kept as an event."""
    with operation(settings, kind, f"image/{name}", lambda _, line: step(line)) as recording:
        yield lambda line: recording(name, line)


@group.command("prune")
def prune(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go")] = False,
) -> None:
    """Delete old builds of images that no lab or template uses (never the newest build
    of an image name), and the lab servers' copies of builds no longer here."""
    from lab.images.usage import prune as prune_builds

    settings = get_settings()
    if dry_run:  # only reads
        result = prune_builds(settings, dry_run=True)
    else:
        with operation(settings, "image-prune", "images") as recording:
            result = recording.result(prune_builds(settings))
    verb = "would remove" if dry_run else "removed"
    for build in result.builds:
        out.print(
            f"{verb} {build.digest[:12]}  {escape(build.source)}"
            f"  {build.created:%Y-%m-%d %H:%M}  {_human(build.bytes)}"
        )
    freed = "would free" if dry_run else "freed"
    out.print(f"{len(result.builds)} old build(s), {freed} {_human(result.bytes_freed)}")
    for server in result.copies.servers:
        for volume in server.volumes:
            out.print(f"{verb} {escape(volume)} on host {escape(server.host)}")
        for volume in server.kept:
            out.print(
                f"kept {escape(volume)} on host {escape(server.host)}: a volume or a domain"
                " there uses it"
            )
        out.print(
            f"host {escape(server.host)}: {len(server.volumes)} copied file(s) of builds no"
            f" longer here, {freed} {_human(server.bytes)}"
        )
    for host in result.copies.unanswered:
        err.print(
            f"[bold yellow]host {escape(host)} did not answer:[/] its copies stay until"
            " the next prune",
            soft_wrap=True,
        )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
