"""`lab catalogue`: the software of all profiles side by side, and each community's
difference from the recommended stack (lab.catalogue). Read-only; `--json` prints the
API's fields (GET /api/v1/catalogue...)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lab.catalogue import queries
from lab.catalogue.unification import CommunityDifference, ProductBrief
from lab.catalogue.views import Matrix
from lab.cli import out
from lab.cli.tables import table
from lab.profile.software import SoftwareKind
from lab.settings import get_settings

group = typer.Typer(
    help="The software catalogue: every profile's products side by side, and the"
    " unification report against the recommended stack.",
    invoke_without_command=True,
)
# Up to this many profiles the matrix has a column each; beyond, a summary of versions.
COLUMNS = 6

AsJson = Annotated[bool, typer.Option("--json", help="As JSON, the API's fields")]
Packages = Annotated[
    bool,
    typer.Option("--include-packages", help="Include the inspected packages (kind `package`)"),
]


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="catalogue")


def _echo_json(text: str) -> None:
    typer.echo(text)


@group.callback()
def matrix(
    ctx: typer.Context,
    kind: Annotated[
        SoftwareKind | None,
        typer.Option(help="Only products of this kind (package: the inspected packages)"),
    ] = None,
    include_packages: Packages = False,
    as_json: AsJson = False,
) -> None:
    """The product × community matrix: which version of each product every profile runs
    (without a command)."""
    if ctx.invoked_subcommand is not None:
        return
    made = queries.matrix(
        get_settings(), date.today(), kind=kind, include_packages=include_packages
    )
    if as_json:
        _echo_json(made.model_dump_json(indent=2))
        return
    _print_matrix(made)


def _print_matrix(made: Matrix) -> None:
    names = [p.name for p in made.profiles]
    wide = len(names) <= COLUMNS
    columns = ["product", "kind", "recommended"]
    columns += (
        [f"{n}{' *' if n == made.recommended else ''}" for n in names]
        if wide
        else [
            "profiles",
            "versions in use",
        ]
    )
    shown = table(*columns)
    for row in made.products:
        cells = [escape(row.product), row.kind.value, escape(row.recommended_version or "-")]
        if wide:
            cells += [
                escape(", ".join(row.versions[n]) or "?") if n in row.versions else "-"
                for n in names
            ]
        else:
            used = Counter(v for versions in row.versions.values() for v in versions or ("?",))
            cells += [
                f"{len(row.versions)}/{len(names)}",
                escape(", ".join(f"{v} ×{c}" for v, c in used.most_common())),
            ]
        shown.add_row(*cells)
    out.print(shown)
    if made.recommended:
        out.print(f"recommended stack: {escape(made.recommended)} (*)")
    else:
        out.print("no recommended stack: mark one profile with `recommended: true`")
    for bad in made.invalid:
        out.print(f"[yellow]invalid:[/] {escape(bad.name)}: {escape(bad.error)}", soft_wrap=True)


@group.command("product")
def product(
    name: Annotated[str, typer.Argument(help="The product's name (any case)")],
    as_json: AsJson = False,
) -> None:
    """Who runs one product: profile, machine, version, the vendor's permission, support."""
    made = queries.product(get_settings(), date.today(), name)
    if as_json:
        _echo_json(made.model_dump_json(indent=2))
        return
    shown = table("profile", "machine", "version", "vendor", "permission", "support ends")
    for e in made.entries:
        ends = e.support_ends.isoformat() if e.support_ends else "-"
        shown.add_row(
            escape(e.profile),
            escape(e.machine),
            escape(e.version or "?"),
            escape(e.vendor or "-"),
            _permission(e.permission.state.value, e.permission.reference),
            f"[red]{ends} (ended)[/]" if e.out_of_support else ends,
        )
    out.print(f"[bold]{escape(made.product)}[/]")
    out.print(shown)


def _permission(state: str, reference: str) -> str:
    return escape(f"{state} ({reference})" if reference else state)


@group.command("permissions")
def permissions(include_packages: Packages = False, as_json: AsJson = False) -> None:
    """The products whose vendor's permission is needed and not granted yet."""
    made = queries.permissions(get_settings(), date.today(), include_packages=include_packages)
    if as_json:
        _echo_json(made.model_dump_json(indent=2))
        return
    if not made.entries:
        out.print("no permission outstanding")
        return
    shown = table("product", "vendor", "profile", "machine", "permission")
    for e in made.entries:
        shown.add_row(
            escape(e.product),
            escape(e.vendor or "-"),
            escape(e.profile),
            escape(e.machine),
            _permission(e.permission.state.value, e.permission.reference),
        )
    out.print(shown)


@group.command("formats")
def formats(as_json: AsJson = False) -> None:
    """Every data format in use: which profiles' products read it and which write it."""
    made = queries.formats(get_settings(), date.today())
    if as_json:
        _echo_json(made.model_dump_json(indent=2))
        return
    shown = table("format", "read by", "written by")
    for row in made.formats:
        shown.add_row(
            escape(row.format),
            escape(", ".join(f"{u.product} ({u.profile})" for u in row.reads) or "-"),
            escape(", ".join(f"{u.product} ({u.profile})" for u in row.writes) or "-"),
        )
    out.print(shown)


@group.command("report")
def report(
    community: Annotated[
        str | None, typer.Argument(help="One community (its profile's or its own name)")
    ] = None,
    include_packages: Packages = False,
    as_json: AsJson = False,
) -> None:
    """Each community's differences from the recommended stack: products missing, extra,
    at other versions, with other data formats."""
    made = queries.report(get_settings(), community=community, include_packages=include_packages)
    if as_json:
        _echo_json(made.model_dump_json(indent=2))
        return
    out.print(f"recommended stack: [bold]{escape(made.recommended)}[/]")
    for difference in made.communities:
        _print_difference(difference)


def _print_difference(d: CommunityDifference) -> None:
    out.print()
    out.print(f"[bold]{escape(d.profile)}[/] ({escape(d.title or d.community)})", soft_wrap=True)
    if d.same:
        out.print("  runs the recommended stack as it is")
        return
    for label, products in (("missing", d.missing), ("extra", d.extra)):
        if products:
            out.print(f"  {label}: {escape(_products(products))}", soft_wrap=True)
    for v in d.versions:
        theirs = ", ".join(v.theirs) or "?"
        out.print(
            f"  version: {escape(v.product)} {escape(theirs)}, recommended {escape(v.recommended)}",
            soft_wrap=True,
        )
    for f in d.formats:
        out.print(
            f"  formats: {escape(f.product)} reads {escape(' '.join(f.theirs.reads) or '-')},"
            f" writes {escape(' '.join(f.theirs.writes) or '-')}; recommended reads"
            f" {escape(' '.join(f.recommended.reads) or '-')},"
            f" writes {escape(' '.join(f.recommended.writes) or '-')}",
            soft_wrap=True,
        )


def _products(products: tuple[ProductBrief, ...]) -> str:
    return ", ".join(f"{p.product} {p.version}".strip() for p in products)


@group.command("export")
def export(
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write the CSV to this file (default: stdout)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Every entry (profile, machine, product) as CSV: to a file, or to stdout."""
    settings = get_settings()
    if as_json:
        entries = queries.entries(settings, date.today())
        _echo_json(json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False))
        return
    text = queries.export_csv(settings, date.today())
    if csv_file is None:
        typer.echo(text.removeprefix("\ufeff"), nl=False)
        return
    csv_file.write_text(text, encoding="utf-8")
    out.print(f"wrote {escape(str(csv_file))}")
