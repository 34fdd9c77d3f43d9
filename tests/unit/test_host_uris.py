"""Which libvirt URIs may name a lab host: the remote protocol to a system daemon, and
no parameter that makes libvirt run a program of the URI's choosing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.driver.pool_xml import overlay_xml, volume_xml
from lab.errors import InvalidError
from lab.host.model import SshJump
from lab.host.uris import check_host_uri, is_local, ssh_jump


@pytest.mark.parametrize(
    "uri",
    [
        "qemu+ssh://hromada-lab@lab2.centre.example/system",
        "qemu+ssh://hromada-lab@10.0.0.2:2222/system?keyfile=/var/lib/hromada-lab/.ssh/id_ed25519",
        "qemu+ssh://hromada-lab@lab2/system?no_tty=1&proxy=native&known_hosts=/etc/lab/known",
        "qemu+tls://lab3.centre.example/system",
        "qemu+tls://lab3.centre.example/system?pkipath=/etc/pki/hromada-lab",
        "qemu:///system",
        "qemu+unix:///system",
    ],
)
def test_accepted(uri: str) -> None:
    assert check_host_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        # libvirt runs `command` on the control node and `netcat` on the host
        ("qemu+ssh://u@h/system?command=/tmp/evil", "'command' is not accepted"),
        ("qemu+ssh://u@h/system?netcat=/tmp/evil", "'netcat' is not accepted"),
        ("qemu+ssh://u@h/system?socket=/run/other", "'socket' is not accepted"),
        ("qemu+ssh://u@h/system?proxy=/bin/sh", "not one of libvirt's"),
        ("qemu+ssh://u:secret@h/system", "password"),
        ("qemu+ssh://u@h/session", "system daemon"),
        ("qemu+ssh:///system", "names no host"),
        ("qemu://h/system", "reaches this machine only"),
        ("test:///default", "not 'test'"),
        ("xen+ssh://u@h/system", "not 'xen+ssh'"),
        ("lab2", "not '(no scheme)'"),
        ("qemu+ssh://u@h/system#x", "fragment"),
        ("qemu+ssh://u@h/system\n", "not a libvirt URI"),
        ("qemu+ssh://u@h /system", "not a libvirt URI"),
        ("qemu+ssh://u@h/system?" + "x" * 600, "not a libvirt URI"),
    ],
)
def test_refused_with_the_reason(uri: str, words: str) -> None:
    with pytest.raises(InvalidError) as refused:
        check_host_uri(uri)
    assert words in refused.value.message
    assert refused.value.hint


def test_local_forms() -> None:
    assert is_local("qemu:///system") and is_local("qemu+unix:///system")
    assert not is_local("qemu+ssh://u@h/system")


def test_guests_are_reached_through_the_ssh_login_a_qemu_ssh_uri_names() -> None:
    jump = ssh_jump(
        "qemu+ssh://hromada-lab@10.0.0.2:2222/system?keyfile=/srv/k&known_hosts=/srv/kh"
    )
    assert jump == SshJump(
        user="hromada-lab",
        host="10.0.0.2",
        port=2222,
        key=Path("/srv/k"),
        known_hosts=Path("/srv/kh"),
    )
    assert jump.target == "hromada-lab@10.0.0.2:2222"


def test_a_tls_host_is_reached_through_the_login_given_or_not_at_all() -> None:
    assert ssh_jump("qemu+tls://lab3/system") is None
    given = ssh_jump("qemu+tls://lab3/system", "root@10.254.1.2", Path("/k"), Path("/kh"))
    assert given is not None and (given.user, given.host, given.port) == ("root", "10.254.1.2", 22)
    assert given.key == Path("/k") and given.known_hosts == Path("/kh")


@pytest.mark.parametrize(
    ("ssh", "key", "words"),
    [
        ("lab3", None, "does not say how to log in"),
        ("-oProxyCommand=x@lab3", None, "not a user name"),
        ("root@-oProxyCommand=x", None, "not a host name"),
        ("root@lab3 extra", None, "not a host name"),
        ("root@lab3:70000", None, "out of range"),
        ("root@lab3", Path("relative/key"), "not an absolute path"),
    ],
)
def test_an_ssh_login_that_could_be_read_as_options_is_refused(
    ssh: str, key: Path | None, words: str
) -> None:
    with pytest.raises(InvalidError, match=words):
        ssh_jump("qemu+tls://lab3/system", ssh, key)


def test_a_qemu_ssh_uri_must_name_its_user() -> None:
    with pytest.raises(InvalidError, match="names no user"):
        ssh_jump("qemu+ssh://lab2/system")


def test_a_remote_overlay_sits_on_the_servers_copy_of_its_image() -> None:
    volume = ET.fromstring(overlay_xml("hl-p1.a.qcow2", 1 << 30, "/pool/abc.disk.qcow2"))
    assert volume.findtext("name") == "hl-p1.a.qcow2"
    assert volume.find("target/format").get("type") == "qcow2"  # type: ignore[union-attr]
    assert volume.findtext("target/permissions/mode") == "0600"  # the lab's own
    assert volume.findtext("backingStore/path") == "/pool/abc.disk.qcow2"
    seed = ET.fromstring(volume_xml("hl-p1.a.seed.iso", 4096, mode="0600"))
    assert seed.findtext("target/permissions/mode") == "0600"
    assert ET.fromstring(volume_xml("x", 1)).findtext("target/permissions/mode") == "0644"
