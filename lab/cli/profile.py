"""`lab validate` and `lab profile show|schema`: community profiles on the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich import box
from rich.console import Console
from rich.markup import escape

from lab.cli import err, out, report
from lab.cli.tables import table
from lab.errors import LabError
from lab.profile import Profile, load_profile, profile_json_schema
from lab.settings import get_settings
from lab.software.roles import known_roles

profile_app = typer.Typer(
    name="profile", help="Community profiles: show and describe.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `validate` and the `profile` group to the `lab` command."""
    app.command("validate")(validate)
    app.add_typer(profile_app, name="profile")


def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Profile files, or directories whose *.yaml files to check."),
    ],
) -> None:
    """Check profiles; print every problem with its file, line and key path."""
    failed = False
    files = _expand(paths)
    if not files:
        err.print("error: no profile files (*.yaml) found", markup=False)
        raise typer.Exit(1)
    roles = known_roles(get_settings().playbooks_dir)
    for path in files:
        try:
            profile = load_profile(path, roles)
        except LabError as error:
            report(error)
            failed = True
            continue
        out.print(f"ok  {escape(str(path))} ({escape(_summary(profile))})", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@profile_app.command("show")
def show(path: Annotated[Path, typer.Argument(help="Profile file.")]) -> None:
    """Print the resolved profile (after `extends`, with canonical sizes) as YAML, then,
    as YAML comments, whether it is the recommended stack and each machine's software."""
    profile = _load_or_exit(path)
    data = profile.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)
    out.print(text, markup=False, soft_wrap=True, end="")
    out.print(_software_summary(profile), markup=False, soft_wrap=True, end="")


def _software_summary(profile: Profile) -> str:
    """The recommended mark and a table per machine of its software (product, version,
    kind, permission), each line a YAML comment so the output stays one YAML document."""
    lines = ["", "# recommended stack: " + ("yes" if profile.recommended else "no")]
    for machine in profile.machines:
        if not machine.software:
            continue
        # Boxed as the terminal the YAML goes to would show it; plain into a pipe.
        shown = table("product", "version", "kind", "permission", boxed=box.SIMPLE)
        for item in machine.software:
            state = item.permission.state.value
            reference = item.permission.reference
            shown.add_row(
                escape(item.product),
                escape(item.version or "?"),
                item.kind.value,
                escape(f"{state} ({reference})" if reference else state),
            )
        drawn = Console(file=io.StringIO(), width=110, no_color=True, highlight=False)
        drawn.print(shown)
        lines.append(f"# software of {machine.name}:")
        body = drawn.file.getvalue()  # type: ignore[attr-defined]
        lines += [f"# {line}".rstrip() for line in body.splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


@profile_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of profile files (for editor completion and checks)."""
    out.print(
        json.dumps(profile_json_schema(), indent=2, ensure_ascii=False),
        markup=False,
        soft_wrap=True,
    )


def _load_or_exit(path: Path) -> Profile:
    try:
        return load_profile(path)
    except LabError as error:
        report(error)
        raise typer.Exit(1) from None


def _expand(paths: list[Path]) -> list[Path]:
    expanded: list[Path] = []
    for path in paths:
        expanded.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return expanded


def _summary(profile: Profile) -> str:
    count = len(profile.machines)
    machines = f"{count} machine" + ("" if count == 1 else "s")
    if profile.community is None:
        return f"abstract base, {machines}"
    title = profile.community.title
    return f"abstract base {title}, {machines}" if profile.abstract else f"{title}, {machines}"
