"""The host firewall's ruleset (playbooks/host/lab_host/templates/firewall.nft.j2) and the
guest firewall beside it (playbooks/files/hromada-lab-guests.nft), loaded for real into
throw-away network namespaces, never into this machine's own.

Three namespaces joined by veth pairs, with TEST-NET addresses that exist only inside them:
`srv` plays the lab host (192.0.2.1 towards the LAN, 198.51.100.1 on a lab bridge named
like the orchestrator's, `hlb-...`), `lan` an engineer's machine (192.0.2.2 and .3), `guest`
a lab guest on the bridge (198.51.100.2). `srv` listens on SSH, the API port, another port,
DNS and DHCP; the probes show what gets through.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

pytestmark = pytest.mark.integration

ROLE = Path(__file__).parents[2] / "playbooks" / "host" / "lab_host"
GUESTS = Path(__file__).parents[2] / "playbooks" / "files" / "hromada-lab-guests.nft"
PROBE = Path(__file__).with_name("netprobe.py")
API, SSH, OTHER, LIBVIRT_TLS = 8080, 22, 9999, 16514
LAN_OK, LAN_OTHER, HOST_LAN = "192.0.2.2", "192.0.2.3", "192.0.2.1"
GUEST, HOST_LAB = "198.51.100.2", "198.51.100.1"


def render(**overrides: Any) -> str:
    """The ruleset as the playbook writes it: the role's defaults, plus `overrides`."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(  # Ansible's template module: trim_blocks on
        loader=jinja2.FileSystemLoader(ROLE / "templates"),
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env.get_template("firewall.nft.j2").render(**{**defaults, **overrides})


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Namespaces:
    def __init__(self, tag: str) -> None:
        self.srv, self.lan, self.guest = (f"hlfw{tag}-{n}" for n in ("srv", "lan", "guest"))

    def create(self) -> None:
        for ns in (self.srv, self.lan, self.guest):
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.srv, "link", "add", "lan0", "type", "veth", "peer", "eth0", "netns", self.lan)
        ip("-n", self.srv, "addr", "add", f"{HOST_LAN}/24", "dev", "lan0")
        ip("-n", self.lan, "addr", "add", f"{LAN_OK}/24", "dev", "eth0")
        ip("-n", self.lan, "addr", "add", f"{LAN_OTHER}/24", "dev", "eth0")
        # A lab bridge named as lab/driver/specs.py names them, a guest's port on it.
        ip("-n", self.srv, "link", "add", "hlb-fwtest", "type", "bridge")
        veth = ("type", "veth", "peer", "eth0", "netns", self.guest)
        ip("-n", self.srv, "link", "add", "vnet0", *veth)
        ip("-n", self.srv, "link", "set", "vnet0", "master", "hlb-fwtest")
        ip("-n", self.srv, "addr", "add", f"{HOST_LAB}/24", "dev", "hlb-fwtest")
        ip("-n", self.guest, "addr", "add", f"{GUEST}/24", "dev", "eth0")
        for ns, links in (
            (self.srv, ("lan0", "hlb-fwtest", "vnet0")),
            (self.lan, ("eth0",)),
            (self.guest, ("eth0",)),
        ):
            for link in links:
                ip("-n", ns, "link", "set", link, "up")

    def delete(self) -> None:
        for ns in (self.srv, self.lan, self.guest):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)

    def nft(self, *args: str, stdin: str | None = None) -> str:
        cmd = ["ip", "netns", "exec", self.srv, "nft", *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr}"
        return proc.stdout

    def load(self, ruleset: str, tmp: Path) -> None:
        path = tmp / "firewall.nft"
        path.write_text(ruleset)
        self.nft("-f", str(path))

    def probe(self, ns: str, *specs: str, timeout: float = 0.7) -> dict[str, bool]:
        cmd = ["ip", "netns", "exec", ns, sys.executable, str(PROBE), "probe", str(timeout)]
        out = subprocess.run([*cmd, *specs], capture_output=True, text=True, check=True)
        result: dict[str, bool] = json.loads(out.stdout)
        return result


@pytest.fixture
def nets() -> Iterator[Namespaces]:
    if os.geteuid() != 0 or not shutil.which("nft"):
        pytest.fail("needs root and nft (nftables): run via `make test`")
    spaces = Namespaces(str(os.getpid()))
    spaces.delete()
    try:
        spaces.create()
        listener = subprocess.Popen(
            ["ip", "netns", "exec", spaces.srv, sys.executable, str(PROBE), "listen"]
            + [f"tcp:{p}" for p in (SSH, API, OTHER, LIBVIRT_TLS, 53)]
            + ["udp:53", "udp:67"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
            yield spaces
        finally:
            listener.kill()
            listener.wait()
    finally:
        spaces.delete()


def lan(src: str, proto: str, port: int) -> str:
    return f"{src},{proto},{HOST_LAN},{port}"


def lab(proto: str, port: int) -> str:
    return f"{GUEST},{proto},{HOST_LAB},{port}"


FROM_LAN = [lan(LAN_OK, "tcp", p) for p in (API, SSH, OTHER, LIBVIRT_TLS)]
FROM_LAB = [lab("tcp", API), lab("tcp", SSH), lab("tcp", 53), lab("udp", 53), lab("udp", 67)]


def test_only_ssh_and_the_api_get_in_and_nothing_from_lab_guests(
    nets: Namespaces, tmp_path: Path
) -> None:
    # Without the firewall everything answers: what the firewall blocks below, it blocks.
    assert all(nets.probe(nets.lan, *FROM_LAN).values())
    assert all(nets.probe(nets.guest, *FROM_LAB).values())

    nets.load(render(), tmp_path)

    assert nets.probe(nets.lan, *FROM_LAN) == {
        lan(LAN_OK, "tcp", API): True,
        lan(LAN_OK, "tcp", SSH): True,
        lan(LAN_OK, "tcp", OTHER): False,
        lan(LAN_OK, "tcp", LIBVIRT_TLS): False,  # closed until control nodes are named
    }
    # Guests have static addresses: no DHCP, no DNS, and neither the API nor SSH.
    assert nets.probe(nets.guest, *FROM_LAB) == dict.fromkeys(FROM_LAB, False)


def test_with_the_guest_firewall_as_a_server_loads_them(nets: Namespaces, tmp_path: Path) -> None:
    nets.nft("-f", str(GUESTS))
    nets.load(render(), tmp_path)
    tables = nets.nft("list", "tables")
    assert "table inet hromada_lab_guests" in tables and "table inet hromada_lab" in tables
    assert nets.probe(nets.lan, *FROM_LAN) == {
        lan(LAN_OK, "tcp", API): True,
        lan(LAN_OK, "tcp", SSH): True,
        lan(LAN_OK, "tcp", OTHER): False,
        lan(LAN_OK, "tcp", LIBVIRT_TLS): False,  # closed until control nodes are named
    }
    assert nets.probe(nets.guest, *FROM_LAB) == dict.fromkeys(FROM_LAB, False)


def test_ssh_and_api_sources_restrict_who_gets_in(nets: Namespaces, tmp_path: Path) -> None:
    nets.load(
        render(
            lab_host_ssh_sources=[f"{LAN_OK}/32", "2001:db8::/32"],
            lab_host_api_sources=["192.0.2.0/30"],
        ),
        tmp_path,
    )
    specs = [lan(src, "tcp", port) for src in (LAN_OK, LAN_OTHER) for port in (SSH, API)]
    assert nets.probe(nets.lan, *specs) == {
        lan(LAN_OK, "tcp", SSH): True,
        lan(LAN_OK, "tcp", API): True,
        lan(LAN_OTHER, "tcp", SSH): False,  # not an admin address
        lan(LAN_OTHER, "tcp", API): True,  # 192.0.2.3 is in 192.0.2.0/30
    }


def test_libvirt_tls_opens_to_the_named_control_nodes_only(
    nets: Namespaces, tmp_path: Path
) -> None:
    nets.load(render(lab_host_libvirt_tls_sources=[f"{LAN_OK}/32"]), tmp_path)
    specs = [lan(src, "tcp", LIBVIRT_TLS) for src in (LAN_OK, LAN_OTHER)]
    assert nets.probe(nets.lan, *specs) == {
        lan(LAN_OK, "tcp", LIBVIRT_TLS): True,
        lan(LAN_OTHER, "tcp", LIBVIRT_TLS): False,
    }
    assert nets.probe(nets.guest, lab("tcp", LIBVIRT_TLS)) == {lab("tcp", LIBVIRT_TLS): False}


def test_reloading_replaces_only_its_own_table(nets: Namespaces, tmp_path: Path) -> None:
    # Someone else's table (libvirt's rules, an admin's own) must survive every load.
    other = "table inet other {\n chain c {\n  type filter hook input priority 10;\n }\n}\n"
    nets.nft("-f", "-", stdin=other)
    nets.load(render(lab_host_api_port=8443), tmp_path)
    nets.load(render(), tmp_path)  # a second load replaces the first, no duplicate rules
    tables = nets.nft("list", "tables")
    assert "table inet other" in tables and "table inet hromada_lab" in tables
    ruleset = nets.nft("list", "table", "inet", "hromada_lab")
    assert "tcp dport 8080 accept" in ruleset and "8443" not in ruleset
    assert nets.probe(nets.lan, lan(LAN_OK, "tcp", API)) == {lan(LAN_OK, "tcp", API): True}
