"""`lab user add|list|assign|unassign|passwd|disable|enable|remove` and
`lab token create|revoke`: who may use the API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from lab.access import grants
from lab.access.grants import Ended
from lab.access.logins import LoginStore
from lab.access.users import AssignmentKind, Role, UserStore, parse_role
from lab.cli import err, out
from lab.cli.as_json import JsonOption, print_models
from lab.cli.tables import table
from lab.errors import LabError
from lab.settings import get_settings

user_app = typer.Typer(help="API users and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
_ROLES = ", ".join(r.value for r in Role)


@user_app.command("add")
def add(
    name: str, role: Annotated[str, typer.Option(help=f"One of: {_ROLES}")] = Role.TRAINEE
) -> None:
    """Add a user with a role (then make them a token: lab token create NAME)."""
    user = UserStore.open(get_settings()).add(name, parse_role(role))
    out.print(f"user {user.name} ({user.role}) added; make a token: lab token create {name}")


@user_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The users, their roles and assignments."""
    users = UserStore.open(get_settings()).list_users()
    if as_json:
        from api.schemas import UserPublic

        print_models(UserPublic.of(u) for u in users)
        return
    shown = table("user", "role", "labs", "classes", "access")
    for u in users:
        shown.add_row(
            escape(u.name),
            u.role,
            escape(", ".join(sorted(u.labs))),
            escape(", ".join(sorted(u.classes))),
            "disabled" if u.disabled else "",
        )
    out.print(shown)


LabOption = Annotated[str | None, typer.Option("--lab", help="A lab (a trainee's seat)")]
ClassOption = Annotated[str | None, typer.Option("--class", help="A class a trainer runs")]


def _target(lab: str | None, klass: str | None, command: str) -> tuple[AssignmentKind, str]:
    if (lab is None) == (klass is None):
        raise LabError("give --lab or --class", hint=f"lab user {command} NAME --lab LAB")
    return (AssignmentKind.LAB, lab) if lab is not None else (AssignmentKind.CLASS, klass or "")


@user_app.command("assign")
def assign(name: str, lab: LabOption = None, klass: ClassOption = None) -> None:
    """Give a user a lab (a trainee's seat) or a class (a trainer's); it must exist."""
    kind, target = _target(lab, klass, "assign")
    grants.assign(get_settings(), name, kind, target)
    out.print(f"user {escape(name)}: {kind} {escape(target)} assigned")


@user_app.command("unassign")
def unassign(name: str, lab: LabOption = None, klass: ClassOption = None) -> None:
    """Take a lab or a class away from a user."""
    kind, target = _target(lab, klass, "unassign")
    grants.unassign(get_settings(), name, kind, target)
    out.print(f"user {escape(name)}: {kind} {escape(target)} unassigned")


@user_app.command("disable")
def disable(name: str) -> None:
    """End a user's access at once: tokens and web sessions end, nothing logs them in."""
    _ended(grants.disable(get_settings(), name), "disabled (lab user enable NAME undoes it)")


@user_app.command("enable")
def enable(name: str) -> None:
    """Let a disabled user in again (their password, or a new token)."""
    grants.enable(get_settings(), name)
    out.print(f"user {escape(name)}: enabled")


@user_app.command("remove")
def remove(name: str) -> None:
    """Forget a user: tokens, web sessions, password and assignments go at once."""
    _ended(grants.remove(get_settings(), name), "removed")


def _ended(ended: Ended, what: str) -> None:
    out.print(
        f"user {escape(ended.user)}: {what}; {ended.tokens} token(s) and"
        f" {ended.sessions} web session(s) ended"
    )


@user_app.command("passwd")
def passwd(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Set a user's password for the web page's login (asked twice, never echoed).
    Their open sessions end; bearer tokens stay valid."""
    store = LoginStore(UserStore.open(get_settings()).state)
    store.users.get(name)  # an unknown user fails before anyone types a password
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    store.set_password(name, password)
    out.print(f"user {escape(name)}: password set; they log in on the web page")


@token_app.command("create")
def create_token(name: str) -> None:
    """Make a token for a user and print it. Only its hash is kept: it is shown once."""
    token = UserStore.open(get_settings()).create_token(name)
    err.print("the token is shown only this once; keep it secret:")
    out.print(token, markup=False, soft_wrap=True)


@token_app.command("revoke")
def revoke(name: str) -> None:
    """Revoke every token of a user and end their web sessions (their password still
    logs in: `lab user disable NAME` ends that too)."""
    _ended(grants.revoke(get_settings(), name), "revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
