"""`lab user add|list|assign` and `lab token create|revoke`: who may use the API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from lab.cli import err, out
from lab.errors import LabError
from lab.logins import LoginStore
from lab.settings import get_settings
from lab.users import AssignmentKind, Role, UserStore, parse_role

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
def list_() -> None:
    """The users, their roles and assignments."""
    table = Table("user", "role", "labs", "classes")
    for u in UserStore.open(get_settings()).list_users():
        table.add_row(u.name, u.role, ", ".join(sorted(u.labs)), ", ".join(sorted(u.classes)))
    out.print(table)


@user_app.command("assign")
def assign(
    name: str,
    lab: Annotated[str | None, typer.Option("--lab", help="A trainee's seat (lab)")] = None,
    klass: Annotated[str | None, typer.Option("--class", help="A class a trainer runs")] = None,
) -> None:
    """Give a user a lab (a trainee's seat) or a class (a trainer's)."""
    if (lab is None) == (klass is None):
        raise LabError("give --lab or --class", hint="lab user assign NAME --lab LAB")
    kind = AssignmentKind.LAB if lab else AssignmentKind.CLASS
    target = lab or klass or ""
    UserStore.open(get_settings()).assign(name, kind, target)
    out.print(f"user {name}: {kind} {target} assigned")


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
    out.print(f"user {name}: password set; they log in on the web page")


@token_app.command("create")
def create_token(name: str) -> None:
    """Make a token for a user and print it. Only its hash is kept: it is shown once."""
    token = UserStore.open(get_settings()).create_token(name)
    err.print("the token is shown only this once; keep it secret:")
    out.print(token, markup=False, soft_wrap=True)


@token_app.command("revoke")
def revoke(name: str) -> None:
    """Revoke every token of a user."""
    count = UserStore.open(get_settings()).revoke_tokens(name)
    out.print(f"user {name}: {count} token(s) revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
