"""Cross-checks between the entries of a profile, over plain data.

They run over the raw (merged) YAML data rather than the validated model so that one
pass reports them together with pydantic's field errors, each with a key path the
loader turns into a line and column. Anything malformed is skipped here: the field
validators report it. `Profile` runs the same checks on itself when built directly.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from lab.profile.types import shown

Loc = tuple[str | int, ...]
SKIP_CROSS_CHECKS = "skip_cross_checks"
_NAMED_LISTS = {
    "networks": "network",
    "machines": "machine",
    "accounts": "account",
    "tests": "test",
}


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,40}$")


def format_loc(loc: Loc) -> str:
    """`("machines", 1, "nics", 0, "address")` -> `machines[1].nics[0].address`.

    A key that is not a plain word (a user's unknown key can be anything: long, with
    line breaks or invisible characters) is shown quoted, cut short and escaped."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not _KEY.fullmatch(part):
            text += f"[{shown(part)}]"
        else:
            text += f".{part}" if text else part
    return text


def cross_checks(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Every problem between entries of a profile, as (key path, message)."""
    abstract = data.get("abstract") is True
    if not abstract:
        if data.get("community") is None:
            yield (
                ("community",),
                "missing required key 'community' (only an abstract profile may omit it)",
            )
        if not _entries(data, "machines"):
            yield ("machines",), "a profile needs at least one machine (unless it is abstract)"
    for key, what in _NAMED_LISTS.items():
        yield from _unique_names(data, key, what)
    networks = _networks(data)
    yield from _overlaps(networks)
    yield from _nics(data, networks)
    # Only names that are text: a list or a mapping there is the field validator's to report.
    machines = {m["name"] for _, m in _entries(data, "machines") if isinstance(m.get("name"), str)}
    for i, check in _entries(data, "tests"):
        target = check.get("machine")
        if isinstance(target, str) and target not in machines and not abstract:
            yield ("tests", i, "machine"), f"unknown machine {shown(target)} ({_known(machines)})"
    yield from _appliances(data)
    yield from _software(data)


def unknown_roles(data: Mapping[str, Any], roles: Collection[str]) -> Iterator[tuple[Loc, str]]:
    """Every role a machine names that is not among `roles` (those that exist)."""
    known = set(roles)
    for i, machine in _entries(data, "machines"):
        named = machine.get("roles")
        if not isinstance(named, list | tuple):
            continue
        for j, role in enumerate(named):
            if isinstance(role, str) and role not in known:
                yield (
                    ("machines", i, "roles", j),
                    f"unknown role {shown(role)} (roles available: {_listed(known)})",
                )


def _entries(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list | tuple):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, Mapping)]


_KNOWN_SHOWN = 10  # names listed after "defined here": each message stays short


def _known(names: set[Any]) -> str:
    found = sorted(n for n in names if isinstance(n, str))
    return "defined here: " + _listed(found) if found else "none are defined"


def _listed(names: Collection[str]) -> str:
    found = sorted(names)
    if not found:
        return "none"
    listed = ", ".join(n if _KEY.fullmatch(n) else shown(n, 24) for n in found[:_KNOWN_SHOWN])
    more = len(found) - _KNOWN_SHOWN
    return listed + (f" and {more} more" if more > 0 else "")


def _unique_names(data: Mapping[str, Any], key: str, what: str) -> Iterator[tuple[Loc, str]]:
    seen: dict[str, int] = {}
    for i, entry in _entries(data, key):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield (
                (key, i, "name"),
                (f"duplicate {what} name {shown(name)} (already used by {key}[{seen[name]}])"),
            )
        else:
            seen[name] = i


def _networks(data: Mapping[str, Any]) -> dict[str, tuple[int, IPv4Network]]:
    found: dict[str, tuple[int, IPv4Network]] = {}
    for i, entry in _entries(data, "networks"):
        name, cidr = entry.get("name"), entry.get("cidr")
        if not isinstance(name, str) or name in found:
            continue
        try:
            found[name] = (i, IPv4Network(str(cidr), strict=True))
        except ValueError:
            continue  # the field validator reports it
    return found


def _overlaps(networks: dict[str, tuple[int, IPv4Network]]) -> Iterator[tuple[Loc, str]]:
    ordered = sorted(networks.items(), key=lambda item: item[1][0])
    for j, (name, (index, net)) in enumerate(ordered):
        for other, (_, earlier) in ordered[:j]:
            if net.overlaps(earlier):
                yield (
                    ("networks", index, "cidr"),
                    (
                        f"{net} of network {shown(name)} overlaps {earlier} of network"
                        f" {shown(other)}"
                    ),
                )
                break


def _nics(
    data: Mapping[str, Any], networks: dict[str, tuple[int, IPv4Network]]
) -> Iterator[tuple[Loc, str]]:
    used: dict[IPv4Address, str] = {}
    for i, machine in _entries(data, "machines"):
        for j, nic in _entries(machine, "nics"):
            loc: Loc = ("machines", i, "nics", j)
            network = nic.get("network")
            if isinstance(network, str) and network not in networks:
                yield (
                    (*loc, "network"),
                    f"unknown network {shown(network)} ({_known(set(networks))})",
                )
                continue
            address = _address(nic.get("address"))
            if address is None or not isinstance(network, str):
                continue
            net = networks[network][1]
            problem = _address_problem(address, network, net)
            if problem:
                yield (*loc, "address"), problem
            elif address in used:
                yield (*loc, "address"), f"{address} is already used by {used[address]}"
            else:
                used[address] = format_loc(loc)


def _address(value: Any) -> IPv4Address | None:
    try:
        return IPv4Address(str(value)) if value is not None else None
    except ValueError:
        return None


def _address_problem(address: IPv4Address, name: str, net: IPv4Network) -> str:
    if address not in net:
        return f"{address} is not inside network {shown(name)} ({net})"
    if address == net.network_address:
        return f"{address} is the network address of {net}; machines cannot use it"
    if address == net.broadcast_address:
        return f"{address} is the broadcast address of {net}; machines cannot use it"
    if address == net.network_address + 1:
        return f"{address} is the host's own address on network {shown(name)}; use .2 or above"
    return ""


def _appliances(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """An appliance is run as it is: it gets no roles and no command tests, its NICs carry
    the addresses it is configured with, and its probes need a managed machine to run on."""
    machines = {
        m["name"]: m for _, m in _entries(data, "machines") if isinstance(m.get("name"), str)
    }
    appliances = {n for n, m in machines.items() if isinstance(m.get("appliance"), Mapping)}
    managed: dict[str, set[str]] = {}  # a managed machine's networks
    for name, machine in machines.items():
        if not isinstance(machine.get("appliance"), Mapping):
            managed[name] = {
                n["network"]
                for _, n in _entries(machine, "nics")
                if isinstance(n.get("network"), str)
            }
    accounts = {a["name"] for _, a in _entries(data, "accounts") if isinstance(a.get("name"), str)}
    context = _ProbeContext(managed, accounts)
    macs: dict[str, str] = {}
    for i, machine in _entries(data, "machines"):
        for j, nic in _entries(machine, "nics"):
            mac = nic.get("mac")
            if isinstance(mac, str):
                key = mac.strip().lower().replace("-", ":")
                if key in macs:
                    yield ("machines", i, "nics", j, "mac"), f"{mac} is already used by {macs[key]}"
                else:
                    macs[key] = format_loc(("machines", i, "nics", j))
        appliance = machine.get("appliance")
        if not isinstance(appliance, Mapping):
            continue
        name = shown(machine.get("name"))
        if machine.get("roles"):
            yield (
                ("machines", i, "roles"),
                f"machine {name} is an appliance: the lab does not manage its inside, so it"
                " takes no roles",
            )
        nics = _entries(machine, "nics")
        for j, nic in nics:
            if nic.get("address") is None:
                yield (
                    ("machines", i, "nics", j, "address"),
                    f"give the address appliance {name} is configured with on this NIC"
                    " (the lab does not configure an appliance)",
                )
        for k, probe in _entries(appliance, "ready"):
            yield from _probe(("machines", i, "appliance", "ready", k), probe, name, nics, context)
    for i, check in _entries(data, "tests"):
        target = check.get("machine")
        if not isinstance(target, str):
            continue  # the field validator reports it
        if target in appliances and check.get("run") is not None:
            yield (
                ("tests", i, "run"),
                f"machine {shown(target)} is an appliance: the lab cannot log into it to run"
                " a command; give this test a probe instead",
            )
        check_probe = check.get("probe")
        if isinstance(check_probe, Mapping) and target in machines:
            yield from _probe(
                ("tests", i, "probe"),
                check_probe,
                shown(target),
                _entries(machines[target], "nics"),
                context,
            )


@dataclass(frozen=True)
class _ProbeContext:
    managed: dict[str, set[str]]  # each managed machine's networks
    accounts: set[str]


def _probe(
    loc: Loc,
    probe: Mapping[str, Any],
    machine: str,
    nics: list[tuple[int, Mapping[str, Any]]],
    context: _ProbeContext,
) -> Iterator[tuple[Loc, str]]:
    account = probe.get("account")
    if isinstance(account, str) and account not in context.accounts:
        yield (
            (*loc, "account"),
            f"{shown(account)} is not an account of the profile: the probe logs in with the"
            " password the lab makes for one of its accounts",
        )
    if probe.get("kind") == "agent":
        return
    index = probe.get("nic", 0)
    if not isinstance(index, int) or isinstance(index, bool):
        return  # the field validator reports it
    if index >= len(nics):
        yield (*loc, "nic"), f"machine {machine} has no NIC {index} (it has {len(nics)})"
        return
    network = nics[index][1].get("network")
    if not isinstance(network, str):
        return
    runner = probe.get("runner")
    if isinstance(runner, str):
        if runner not in context.managed:
            why = f"{shown(runner)} is not a managed machine of the profile"
        elif network not in context.managed[runner]:
            why = f"machine {shown(runner)} has no NIC on network {shown(network)}"
        else:
            return
        yield (
            (*loc, "runner"),
            f"{why}: it cannot run this probe of machine {machine}; name a managed machine"
            f" on network {shown(network)}, or leave runner out",
        )
        return
    if not any(network in networks for networks in context.managed.values()):
        yield (
            loc,
            f"no managed machine is on network {shown(network)} to run this probe of machine"
            f" {machine} from: add one to that network, or probe with kind agent",
        )


def _software(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """A product is listed once per machine (its versions are one entry each machine)."""
    for i, machine in _entries(data, "machines"):
        seen: dict[str, int] = {}
        for j, entry in _entries(machine, "software"):
            product = entry.get("product")
            if not isinstance(product, str):
                continue
            key = product.strip().casefold()
            if key in seen:
                yield (
                    ("machines", i, "software", j, "product"),
                    f"product {shown(product, 40)} is listed twice on this machine"
                    f" (already software[{seen[key]}])",
                )
            else:
                seen[key] = j
