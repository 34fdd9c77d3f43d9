"""A course's checks in plain words, for the people who write and run courses (pure).

`lab course show` prints them, so that an author sees what each check will really ask
without reading the YAML: "file-srv: /srv/shares/cnap/dovidky is a directory, group
smb-cnap, group-writable".
"""

from __future__ import annotations

from lab.courses.model import (
    BaseCheck,
    CommandCheck,
    FileCheck,
    FromCheck,
    HttpCheck,
    PortCheck,
    ServiceCheck,
    ShareCheck,
    SqlCheck,
    Task,
    UserCheck,
)


def describe_check(task: Task, check: BaseCheck) -> str:
    """What `check` of `task` asks, on which machine, in one line."""
    machine = task.machine_of(check)
    text = _what(check, machine)
    if isinstance(check, FromCheck):
        text += f" (asked from {check.from_ or 'a machine on its network'})"
    return f"{machine}: {text}"


def _what(check: BaseCheck, machine: str) -> str:
    if isinstance(check, FileCheck):
        return _file(check)
    if isinstance(check, ServiceCheck):
        state = "is active" if check.active else "is not active"
        if check.enabled is not None:
            state += ", enabled" if check.enabled else ", not enabled"
        return f"service {check.service} {state}"
    if isinstance(check, UserCheck):
        if not check.exists:
            return f"there is no account {check.user}"
        groups = f", in groups {', '.join(check.groups)}" if check.groups else ""
        return f"account {check.user} exists{groups}"
    if isinstance(check, PortCheck):
        return f"TCP port {check.port} {'answers' if check.open else 'is closed'}"
    if isinstance(check, HttpCheck):
        scheme = "https" if check.tls else "http"
        port = f":{check.port}" if check.port else ""
        shows = f" showing {check.shows!r}" if check.shows else ""
        return f"{scheme}://{machine}{port}{check.http} answers {check.status}{shows}"
    if isinstance(check, CommandCheck):
        output = f", output holding {check.output!r}" if check.output else ""
        return f"`{check.command}` (as root) exits {check.exit}{output}"
    if isinstance(check, SqlCheck):
        returns = f" holding {check.returns!r}" if check.returns else ""
        return f"query `{check.sql}` on database {check.database} returns a row{returns}"
    if isinstance(check, ShareCheck):
        return f"share {check.share} holds {check.holds!r}, seen by {check.account} over SMB"
    return str(check.kind)


def _file(check: FileCheck) -> str:
    if not check.exists:
        return f"{check.file} does not exist"
    what = {"file": "is a file", "directory": "is a directory", "any": "exists"}[check.type]
    parts = [f"{check.file} {what}"]
    if check.contains:
        parts.append(f"holding {check.contains!r}")
    if check.owner:
        parts.append(f"owner {check.owner}")
    if check.group:
        parts.append(f"group {check.group}")
    if check.group_writable is not None:
        parts.append("group-writable" if check.group_writable else "not group-writable")
    return ", ".join(parts)
