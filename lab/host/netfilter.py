"""What the host's netfilter tables hold of the lab guests' isolation, read from listings
(pure).

Two sets of rules keep lab guests in their place on a host, both in the kernel's
netfilter tables:

- the guest firewall, the nftables table `inet hromada_lab_guests`: whatever a guest sends
  to the host's own addresses on a lab bridge (`hlb-*`) is dropped;
- each lab NIC's filter, which libvirt builds with `ebtables` for the NIC's filter binding:
  in the `nat` table, `PREROUTING` jumps on the NIC's tap (`-i TAP -j libvirt-I-TAP`) to a
  chain of the filter's rules on what the guest sends;
- each isolated lab network's rules, which libvirt (9, its iptables backend) adds as it
  starts the network: nothing is routed out of its bridge or into it
  (`-A LIBVIRT_FWO -i BRIDGE -j REJECT`, `-A LIBVIRT_FWI -o BRIDGE -j REJECT`).

Whoever flushes those tables (`nft flush ruleset`, which Debian's `nftables.service` runs
at every start and reload, or `ebtables -t nat -F`) takes the rules away, and neither
libvirt nor the lab notices: libvirt still holds every binding, so nothing makes them
again. These functions tell, from the listings `nft` and `ebtables` print, what stands.
"""

from __future__ import annotations

import re

GUEST_FIREWALL = ("inet", "hromada_lab_guests")

_CHAIN = re.compile(r"^Bridge chain: (?P<name>\S+), entries: (?P<entries>\d+),")
_JUMP = re.compile(r"^-i (?P<tap>\S+) -j libvirt-I-(?P<chain>\S+)$")
_ROUTING = re.compile(r"^-A LIBVIRT_FW(?P<chain>[IO]) -(?P<way>[io]) (?P<bridge>\S+) -j REJECT\b")
_GUEST_DROP = re.compile(r'^iifname "hlb-\*" (?:counter (?:packets \d+ bytes \d+ )?)?drop\b')


def filtered_taps(listing: str) -> frozenset[str]:
    """The taps whose filter rules stand in what `ebtables -t nat -L` printed: `PREROUTING`
    jumps on the tap to its chain `libvirt-I-TAP`, and that chain holds rules."""
    entries: dict[str, int] = {}
    jumps: set[str] = set()
    chain = ""
    for raw in listing.splitlines():
        line = raw.strip()
        header = _CHAIN.match(line)
        if header:
            chain = header["name"]
            entries[chain] = int(header["entries"])
            continue
        jump = _JUMP.match(line)
        if chain == "PREROUTING" and jump and jump["tap"] == jump["chain"]:
            jumps.add(jump["tap"])
    return frozenset(tap for tap in jumps if entries.get(f"libvirt-I-{tap}", 0) > 0)


def guest_firewall_stands(listing: str) -> bool:
    """Whether what `nft list table inet hromada_lab_guests` printed drops what guests send
    to the host (the table's input hook with its drop rule for lab bridges)."""
    lines = [line.strip() for line in listing.splitlines()]
    hooked = any(line.startswith("type filter hook input") for line in lines)
    return hooked and any(_GUEST_DROP.match(line) for line in lines)


def isolated_bridges(listing: str) -> frozenset[str]:
    """The bridges nothing is routed out of or into, by what `iptables -S` printed: both
    of libvirt's reject rules for the bridge stand."""
    out_of: set[str] = set()
    into: set[str] = set()
    for line in listing.splitlines():
        rule = _ROUTING.match(line.strip())
        if rule and (rule["chain"], rule["way"]) == ("O", "i"):
            out_of.add(rule["bridge"])
        elif rule and (rule["chain"], rule["way"]) == ("I", "o"):
            into.add(rule["bridge"])
    return frozenset(out_of & into)
