"""Which libvirt URIs may name a lab host (pure).

A host is reached through libvirt's own remote protocol: `qemu+ssh://` (as the service
user, keys only) or `qemu+tls://`, always the system daemon (a session daemon has no
bridged networks). Local forms (`qemu:///system`, `qemu+unix:///system`) name a daemon on
the control node itself. Some URI parameters choose programs that libvirt runs, on the
control node (`command`: the ssh binary) or on the host (`netcat`): those are refused, as
is anything not known to be harmless.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from lab.errors import InvalidError, quote
from lab.host.model import SshJump

REMOTE_SCHEMES = ("qemu+ssh", "qemu+tls")
LOCAL_SCHEMES = ("qemu", "qemu+unix")
# Parameters that pick keys, certificates and checks, never a program.
_PARAMETERS = frozenset(
    {"keyfile", "known_hosts", "known_hosts_verify", "sshauth", "no_tty", "pkipath", "proxy"}
)
_PROXIES = frozenset({"auto", "native", "netcat"})  # which helper; `netcat=` (its path) is not
MAX_URI = 512

_HINT = (
    "use qemu+ssh://hromada-lab@HOST/system (the service user, with its key) or"
    " qemu+tls://HOST/system, for a host prepared by playbooks/host.yml"
)


def check_host_uri(uri: str) -> str:
    """`uri` if it may name a lab host, else InvalidError saying what is wrong."""
    if len(uri) > MAX_URI or not uri.isprintable() or any(c.isspace() for c in uri):
        raise InvalidError(f"{quote(uri[:80])} is not a libvirt URI", hint=_HINT)
    parts = urlsplit(uri)
    if parts.scheme not in REMOTE_SCHEMES + LOCAL_SCHEMES:
        raise InvalidError(
            f"{quote(uri)}: a lab host is reached through QEMU's libvirt driver, not"
            f" {quote(parts.scheme or '(no scheme)')}",
            hint=_HINT,
        )
    if parts.path != "/system":
        raise InvalidError(
            f"{quote(uri)} does not name the system daemon (/system)",
            hint="labs need libvirt's system daemon: end the URI's path with /system",
        )
    if parts.scheme in REMOTE_SCHEMES and not parts.hostname:
        raise InvalidError(f"{quote(uri)} names no host", hint=_HINT)
    if parts.password is not None:
        raise InvalidError(
            f"{quote(parts.scheme + '://' + (parts.hostname or ''))}...: a URI with a password",
            hint="the service user logs in with its key (keyfile=...), never a password in a URI",
        )
    if parts.scheme in LOCAL_SCHEMES and parts.netloc:
        raise InvalidError(
            f"{quote(uri)}: {parts.scheme} reaches this machine only, it names no host",
            hint=_HINT,
        )
    if parts.fragment:
        raise InvalidError(f"{quote(uri)} has a fragment (#...)", hint=_HINT)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _PARAMETERS:
            raise InvalidError(
                f"{quote(uri)}: the parameter {quote(key)} is not accepted",
                hint="accepted: "
                + ", ".join(sorted(_PARAMETERS))
                + " (none that names a program to run)",
            )
        if key == "proxy" and value not in _PROXIES:
            raise InvalidError(
                f"{quote(uri)}: proxy={quote(value)} is not one of libvirt's",
                hint="proxy=auto, native or netcat",
            )
    return uri


# A user and a host as OpenSSH takes them on its command line and in a config file: never
# starting with '-' (an option) and with nothing a shell or a config line would split on.
_SSH_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_SSH_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_SSH_SPEC = re.compile(r"(?P<user>[^@]+)@(?P<host>[^:@]+)(?::(?P<port>[0-9]{1,5}))?")
_SSH_HINT = "give it as USER@HOST or USER@HOST:PORT, e.g. hromada-lab@lab2.centre.example"


def ssh_jump(
    uri: str,
    ssh: str | None = None,
    key: Path | None = None,
    known_hosts: Path | None = None,
) -> SshJump | None:
    """How guests on the host of `uri` are reached: through `ssh` (USER@HOST[:PORT]),
    else through the user, host, port, key and known hosts of a qemu+ssh URI; None for a
    qemu+tls URI given no `ssh` (its guests cannot be reached)."""
    parts = urlsplit(uri)
    params = dict(parse_qsl(parts.query))
    if ssh is not None:
        found = _SSH_SPEC.fullmatch(ssh)
        if found is None:
            raise InvalidError(f"{quote(ssh)} does not say how to log in by SSH", hint=_SSH_HINT)
        user, host, port = found["user"], found["host"], int(found["port"] or 22)
    elif parts.scheme == "qemu+ssh":
        if parts.username is None:
            raise InvalidError(
                f"{quote(uri)} names no user to log in as",
                hint="name the service user: qemu+ssh://hromada-lab@HOST/system",
            )
        user, host, port = parts.username, parts.hostname or "", parts.port or 22
        key = key or (Path(params["keyfile"]) if "keyfile" in params else None)
        known_hosts = known_hosts or (
            Path(params["known_hosts"]) if "known_hosts" in params else None
        )
    else:
        return None
    if not _SSH_USER.fullmatch(user):
        raise InvalidError(f"{quote(user)} is not a user name SSH is given", hint=_SSH_HINT)
    if not _SSH_HOST.fullmatch(host):
        raise InvalidError(f"{quote(host)} is not a host name or address", hint=_SSH_HINT)
    if not 0 < port < 65536:
        raise InvalidError(f"port {port} is out of range", hint=_SSH_HINT)
    for path in (key, known_hosts):
        if path is not None and (not path.is_absolute() or not str(path).isprintable()):
            raise InvalidError(
                f"{quote(str(path))} is not an absolute path",
                hint="name the key and the known hosts file by their full paths",
            )
    return SshJump(user=user, host=host, port=port, key=key, known_hosts=known_hosts)


def is_local(uri: str) -> bool:
    """Whether `uri` reaches a daemon on the control node itself."""
    return urlsplit(uri).scheme in LOCAL_SCHEMES
