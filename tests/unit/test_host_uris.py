"""Which libvirt URIs may name a lab host: the remote protocol to a system daemon, and
no parameter that makes libvirt run a program of the URI's choosing."""

from __future__ import annotations

import pytest

from lab.errors import InvalidError
from lab.host.uris import check_host_uri, is_local


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
