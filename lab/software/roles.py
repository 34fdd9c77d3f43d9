"""The role catalogue: what `playbooks/roles/` offers to profiles.

A profile names roles as `web-portal`; the Ansible role lives in `playbooks/roles/web_portal`
(ansible-lint wants role names to be identifiers). Each role declares in `vars/main.yml`
the Debian packages it needs (`<dir>_packages`), which `lab prepare` bakes into the image,
and ships testinfra tests in `tests/test_*.py`, which `lab test` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from lab.errors import InvalidError, NotFoundError, quote
from lab.profile import Machine, Profile


class Role(BaseModel):
    """One Ansible role as the orchestrator sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # as profiles write it: web-portal
    directory: Path  # playbooks/roles/web_portal
    packages: tuple[str, ...]
    tests: tuple[Path, ...]

    @property
    def ansible_name(self) -> str:
        return self.directory.name


def role_directory(name: str) -> str:
    """`web-portal` -> `web_portal`."""
    return name.replace("-", "_")


def load_role(playbooks: Path, name: str) -> Role:
    directory = playbooks / "roles" / role_directory(name)
    if not (directory / "tasks" / "main.yml").is_file():
        known = ", ".join(available(playbooks)) or "none"
        raise NotFoundError(
            f"role {quote(name)} does not exist",
            hint=f"roles available: {known}; fix the profile's `roles:` or write the role"
            " (playbooks/roles/ROLE/tasks/main.yml; `lab validate` locates the line)",
        )
    return Role(
        name=name,
        directory=directory,
        packages=_packages(directory),
        tests=tuple(sorted((directory / "tests").glob("test_*.py"))),
    )


def available(playbooks: Path) -> list[str]:
    """The role names (profile spelling) that `playbooks/roles` holds."""
    root = playbooks / "roles"
    if not root.is_dir():
        return []
    return sorted(
        p.name.replace("_", "-") for p in root.iterdir() if (p / "tasks" / "main.yml").is_file()
    )


def known_roles(playbooks: Path) -> list[str] | None:
    """The roles profiles may name, for validation; None when there is no roles
    directory at all (a misconfigured LAB_PLAYBOOKS_DIR: `lab prepare` says so)."""
    return available(playbooks) if (playbooks / "roles").is_dir() else None


def roles_of(playbooks: Path, machine: Machine) -> tuple[Role, ...]:
    return tuple(load_role(playbooks, name) for name in machine.roles)


def check_profile(playbooks: Path, profile: Profile) -> None:
    """Every role a profile names exists; all missing ones are reported together."""
    known = set(available(playbooks))
    missing = [
        f"machines.{machine.name}: role {quote(role)}"
        for machine in profile.machines
        for role in machine.roles
        if role not in known
    ]
    if missing:
        raise NotFoundError(
            "unknown roles: " + "; ".join(missing),
            hint=f"roles available: {', '.join(sorted(known)) or 'none'}; `lab validate`"
            " locates each",
        )


def packages_for(playbooks: Path, machine: Machine) -> tuple[str, ...]:
    """The packages every role of `machine` needs, sorted, without repeats."""
    return tuple(sorted({p for role in roles_of(playbooks, machine) for p in role.packages}))


def _packages(directory: Path) -> tuple[str, ...]:
    path = directory / "vars" / "main.yml"
    key = f"{directory.name}_packages"
    if not path.is_file():
        return ()
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidError(f"{path}: not valid YAML: {exc}", hint="check the indentation") from exc
    packages = data.get(key, []) if isinstance(data, dict) else None
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise InvalidError(
            f"{path}: `{key}` must be a list of Debian package names",
            hint="write it as a plain YAML list, without Jinja",
        )
    return tuple(packages)
