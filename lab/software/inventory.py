"""What Ansible and the verification tests are told about a lab: pure data builders.

`lab_vars` is the one description of a lab that roles (as variables) and testinfra tests
(as the `lab` fixture) both read; `inventory` and `playbook` wrap it for ansible-runner.
Values come from validated models (names are DNS labels or POSIX names, addresses are
IPv4), and they travel as data, never spliced into YAML or command text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.labs.deployment import ADMIN_USER
from lab.labs.plan import LabPlan
from lab.profile import AccountKind, Profile
from lab.software.roles import role_directory

DEFAULT_DEPARTMENT = "staff"


def lab_domain(profile: Profile) -> str:
    """The community's local DNS/mail domain: `nizhyn.lab`."""
    return f"{profile.community.name if profile.community else 'hromada'}.lab"


def lab_vars(plan: LabPlan, profile: Profile, passwords: dict[str, str]) -> dict[str, Any]:
    community = profile.community.model_dump(mode="json") if profile.community else {}
    staff = [a for a in profile.accounts if a.kind is AccountKind.STAFF]
    departments: dict[str, list[str]] = {}
    for account in staff:
        departments.setdefault(account.department or DEFAULT_DEPARTMENT, []).append(account.name)
    host = plan.management.host_address
    return {
        "lab_name": plan.lab,
        "lab_community": community,
        "lab_domain": lab_domain(profile),
        "lab_accounts": [
            {
                "name": a.name,
                "full_name": a.full_name,
                "kind": a.kind.value,
                "groups": list(a.groups),
                "department": a.department,
                "password": passwords[a.name],
            }
            for a in profile.accounts
        ],
        "lab_departments": departments,
        "lab_machines": {
            m.name: {
                "roles": list(m.roles),
                "addresses": {nic.network: str(nic.address) for nic in m.nics},
                "management": str(m.management_address),
            }
            for m in plan.managed_machines
        },
        # Machines the lab runs but does not manage: roles may point at their addresses.
        "lab_appliances": {
            m.name: {"addresses": {nic.network: str(nic.address) for nic in m.nics}}
            for m in plan.appliances
        },
        "lab_time_server": str(host.ip) if host else "",
    }


def inventory(plan: LabPlan, variables: dict[str, Any], ssh_config: Path) -> dict[str, Any]:
    """An ansible-runner inventory: hosts named as in the profile, reached via ssh_config."""
    return {
        "all": {
            "hosts": {
                m.name: {"lab_machine": m.name, "lab_roles": list(m.roles)}
                for m in plan.managed_machines
            },
            "vars": {
                **variables,
                "ansible_user": ADMIN_USER,
                "ansible_ssh_common_args": f"-F {ssh_config}",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_become": True,
            },
        }
    }


def role_order(plan: LabPlan) -> list[str]:
    """Every role of the lab once, in the order machines first name them."""
    order: list[str] = []
    for machine in plan.machines:
        order += [r for r in machine.roles if r not in order]
    return order


def playbook(plan: LabPlan) -> list[dict[str, Any]]:
    """One play over all machines, so they are provisioned side by side; each role runs
    only where the profile gives it (`when`)."""
    return [
        {
            "name": f"community stack of lab {plan.lab}",
            "hosts": "all",
            "gather_facts": False,
            "become": True,
            "roles": [
                {"role": role_directory(name), "when": f"'{name}' in lab_roles"}
                for name in role_order(plan)
            ],
        }
    ]


def package_playbook(package: Path, machines: list[str]) -> list[dict[str, Any]]:
    """Install one .deb (`lab apply --package`): copy it over, install with dependencies
    that are already on the machine (guests have no mirror to fetch others from)."""
    dest = f"/var/tmp/lab-apply/{package.name}"
    return [
        {
            "name": f"install {package.name}",
            "hosts": ":".join(machines),
            "gather_facts": False,
            "become": True,
            "tasks": [
                {
                    "name": "Make the upload directory",
                    "ansible.builtin.file": {
                        "path": "/var/tmp/lab-apply",
                        "state": "directory",
                        "mode": "0700",
                    },
                },
                {
                    "name": "Copy the package",
                    "ansible.builtin.copy": {"src": str(package), "dest": dest, "mode": "0644"},
                },
                {"name": "Install the package", "ansible.builtin.apt": {"deb": dest}},
            ],
        }
    ]
