"""Probes: is a machine the lab does not log into ready, and does it pass its checks?

An appliance (a vendor VM, Windows) has no account for the lab, so it is probed from the
lab's side: TCP, ICMP and HTTP(S), and SMB, LDAP and SQL with the machine's own clients,
from a managed machine of the same lab (the lab's networks are layer-2 segments the host
has no address on), the QEMU guest agent from the host through libvirt.
"""
