"""What stands of the guests' isolation, read from what `ebtables`, `nft` and `iptables`
print (lab.host.netfilter). The listings are real: the sample lab's two filtered NICs as
libvirt built them, the guest firewall as scripts/labns loads it, and libvirt's rules for
isolated networks in a test run's namespace."""

from __future__ import annotations

from lab.host.netfilter import filtered_taps, guest_firewall_stands, isolated_bridges

# `ebtables -t nat -L` with the sample lab (rural-hromada.yaml) up, ebtables-nft.
SAMPLE_LAB = """\
Bridge table: nat

Bridge chain: PREROUTING, entries: 2, policy: ACCEPT
-i hl54d6417e97 -j libvirt-I-hl54d6417e97
-i hlb605337f20 -j libvirt-I-hlb605337f20

Bridge chain: OUTPUT, entries: 0, policy: ACCEPT

Bridge chain: POSTROUTING, entries: 0, policy: ACCEPT

Bridge chain: libvirt-I-hl54d6417e97, entries: 8, policy: RETURN
-s ! 52:54:00:ed:0a:2f -j DROP
-p IPv4 --ip-src ! 10.20.0.10 -j DROP
-p ARP --arp-mac-src ! 52:54:00:ed:0a:2f -j DROP
-p ARP --arp-ip-src ! 10.20.0.10 -j DROP
-p IPv4 -j ACCEPT
-p ARP -j ACCEPT
-p RARP -j ACCEPT
-j DROP

Bridge chain: libvirt-I-hlb605337f20, entries: 8, policy: RETURN
-s ! 52:54:00:41:61:3a -j DROP
-p IPv4 --ip-src ! 10.20.0.20 -j DROP
-p ARP --arp-mac-src ! 52:54:00:41:61:3a -j DROP
-p ARP --arp-ip-src ! 10.20.0.20 -j DROP
-p IPv4 -j ACCEPT
-p ARP -j ACCEPT
-p RARP -j ACCEPT
-j DROP
"""

FLUSHED = """\
Bridge table: nat

Bridge chain: PREROUTING, entries: 0, policy: ACCEPT

Bridge chain: OUTPUT, entries: 0, policy: ACCEPT

Bridge chain: POSTROUTING, entries: 0, policy: ACCEPT
"""

# `nft list table inet hromada_lab_guests` in the sample lab's namespace.
GUEST_FIREWALL = """\
table inet hromada_lab_guests {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "hlb-*" ct state established,related accept
\t\tiifname "hlb-*" counter packets 41 bytes 5037 drop comment "lab guests reach no host port"
\t}
}
"""


def test_the_taps_whose_jump_and_rules_stand() -> None:
    assert filtered_taps(SAMPLE_LAB) == {"hl54d6417e97", "hlb605337f20"}


def test_a_flushed_table_filters_no_tap() -> None:
    assert filtered_taps(FLUSHED) == frozenset()
    assert filtered_taps("") == frozenset()


def test_a_tap_whose_jump_is_gone_is_not_filtered() -> None:
    listing = SAMPLE_LAB.replace("-i hl54d6417e97 -j libvirt-I-hl54d6417e97\n", "")
    assert filtered_taps(listing) == {"hlb605337f20"}


def test_a_tap_whose_chain_is_emptied_is_not_filtered() -> None:
    # `ebtables -t nat -F libvirt-I-hlb605337f20`: the jump stays, the rules go.
    head, _, _ = SAMPLE_LAB.partition("Bridge chain: libvirt-I-hlb605337f20")
    listing = head + "Bridge chain: libvirt-I-hlb605337f20, entries: 0, policy: RETURN\n"
    assert filtered_taps(listing) == {"hl54d6417e97"}


def test_a_jump_to_another_taps_chain_does_not_count() -> None:
    listing = SAMPLE_LAB.replace(
        "-i hl54d6417e97 -j libvirt-I-hl54d6417e97", "-i hl54d6417e97 -j libvirt-I-hlb605337f20"
    )
    assert filtered_taps(listing) == {"hlb605337f20"}


def test_a_jump_outside_prerouting_does_not_count() -> None:
    listing = SAMPLE_LAB.replace(
        "Bridge chain: OUTPUT, entries: 0, policy: ACCEPT",
        "Bridge chain: OUTPUT, entries: 1, policy: ACCEPT\n-i hlaaaa -j libvirt-I-hlaaaa",
    ).replace(
        "Bridge chain: POSTROUTING,",
        "Bridge chain: libvirt-I-hlaaaa, entries: 1, policy: RETURN\n-j DROP\n\n"
        "Bridge chain: POSTROUTING,",
    )
    assert "hlaaaa" not in filtered_taps(listing)


def test_the_guest_firewall_stands_with_its_drop_rule() -> None:
    assert guest_firewall_stands(GUEST_FIREWALL)
    assert guest_firewall_stands(GUEST_FIREWALL.replace("counter packets 41 bytes 5037 ", ""))


def test_a_guest_firewall_without_its_drop_rule_or_hook_does_not_stand() -> None:
    assert not guest_firewall_stands("")
    without_drop = "\n".join(line for line in GUEST_FIREWALL.splitlines() if "drop" not in line)
    assert not guest_firewall_stands(without_drop)
    unhooked = GUEST_FIREWALL.replace("type filter hook input priority filter; policy accept;", "")
    assert not guest_firewall_stands(unhooked)


# `iptables -S` in a test run's namespace: two isolated lab networks (libvirt 9).
TWO_NETWORKS = """\
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N LIBVIRT_FWI
-N LIBVIRT_FWO
-N LIBVIRT_FWX
-N LIBVIRT_INP
-N LIBVIRT_OUT
-A INPUT -j LIBVIRT_INP
-A FORWARD -j LIBVIRT_FWX
-A FORWARD -j LIBVIRT_FWI
-A FORWARD -j LIBVIRT_FWO
-A OUTPUT -j LIBVIRT_OUT
-A LIBVIRT_FWI -o hlb-hltw-5e4561 -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWI -o hlb-hltw-4a93d8 -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWO -i hlb-hltw-5e4561 -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWO -i hlb-hltw-4a93d8 -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWX -i hlb-hltw-5e4561 -o hlb-hltw-5e4561 -j ACCEPT
-A LIBVIRT_FWX -i hlb-hltw-4a93d8 -o hlb-hltw-4a93d8 -j ACCEPT
"""


def test_a_network_is_isolated_while_both_its_reject_rules_stand() -> None:
    assert isolated_bridges(TWO_NETWORKS) == {"hlb-hltw-5e4561", "hlb-hltw-4a93d8"}
    one_way = TWO_NETWORKS.replace(
        "-A LIBVIRT_FWI -o hlb-hltw-4a93d8 -j REJECT --reject-with icmp-port-unreachable\n", ""
    )
    assert isolated_bridges(one_way) == {"hlb-hltw-5e4561"}
    flushed = "".join(line + "\n" for line in TWO_NETWORKS.splitlines() if "hlb-" not in line)
    assert isolated_bridges(flushed) == frozenset()
    # An ACCEPT in libvirt's chains isolates nothing.
    accepting = TWO_NETWORKS.replace("-j REJECT", "-j ACCEPT")
    assert isolated_bridges(accepting) == frozenset()
