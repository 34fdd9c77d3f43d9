"""Guest access end to end: keys + NoCloud seed + SSH against a real TCG guest.

Boots the stored debian-12 image with plain QEMU (no libvirt), so only keys.py,
seed.py and guest.py are under test: a throw-away overlay, our seed ISO as a read-only
virtio disk, and user-mode networking whose only way in is a port forward bound to
127.0.0.1 of the test's network namespace (run via `scripts/labns run`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from lab.commands import run
from lab.labs import guest, keys, seed
from tests.homes import IMAGE_HOME

IMAGE_NAME = IMAGE_HOME / "images" / "names" / "debian-12.json"
# QEMU's user-mode network gives the guest 10.0.2.15 and forwards to it; the seed gives
# the same address statically (by MAC), as a lab's seed does on its management network.
GUEST_MAC = "52:54:00:12:34:56"
GUEST_IP = IPv4Interface("10.0.2.15/24")
FULL_NAME = "Олена Коваль-Їжак, вчителька"
BOOT_DEADLINE = 180.0

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@dataclass(frozen=True)
class Booted:
    addr: guest.GuestAddress
    spec: seed.SeedSpec
    password_hash: str
    ssh_after: float  # seconds from QEMU start to the first SSH answer
    ready_after: float  # ... to cloud-init's first boot being done


def _image_blob() -> Path:
    if not IMAGE_NAME.exists():
        reason = f"no debian-12 image at {IMAGE_NAME}: run `lab image build images/debian-12.yaml`"
        if os.environ.get("LAB_REQUIRE_INTEGRATION") == "1":
            pytest.fail(reason)  # CI must not pass by skipping
        pytest.skip(reason)
    digest = str(json.loads(IMAGE_NAME.read_text())["digest"])
    return IMAGE_HOME / "images" / "blobs" / digest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    if not os.environ.get("LAB_NETNS"):
        pytest.skip("boots a networked guest: run inside `scripts/labns run`")
    blob = _image_blob()
    image = json.loads((blob / "image.json").read_text())
    work = tmp_path_factory.mktemp("guest")
    lab_key = keys.ensure_keypair(work / "keys", comment="hromada-lab:itest")
    host_key = keys.host_keypair(work / "keys", "itest1")
    password_hash = seed.hash_password("Навчання-2024")
    spec = seed.SeedSpec(
        hostname="itest1",
        instance_id="itest.itest1",
        authorized_keys=(lab_key.public_text,),
        host_key=(host_key.private.read_text(), host_key.public_text),
        accounts=(
            seed.SeedAccount(
                name="olena",
                full_name=FULL_NAME,
                groups=("staff", "teachers"),
                password_hash=password_hash,
            ),
        ),
        interfaces=(seed.SeedInterface(mac=GUEST_MAC, address=GUEST_IP),),
    )
    seed.write_seed(spec, work / "seed.iso")
    overlay = work / "overlay.qcow2"
    run(
        [
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            blob / "disk.qcow2",
            overlay,
        ]
    )
    port = _free_port()
    console = work / "console.log"
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-smp", "1", "-nographic",
        "-kernel", str(blob / image["kernel"]), "-initrd", str(blob / image["initrd"]),
        "-append", image["cmdline"],
        "-drive", f"file={overlay},if=virtio,format=qcow2",
        "-drive", f"file={work / 'seed.iso'},if=virtio,readonly=on,format=raw",
        "-nic", f"user,model=virtio-net-pci,mac={GUEST_MAC},hostfwd=tcp:127.0.0.1:{port}-:22",
    ]  # fmt: skip
    addr = guest.GuestAddress(
        host="127.0.0.1", port=port, user="labadmin", key=lab_key.private,
        host_key=host_key.public_text,
    )  # fmt: skip
    with console.open("wb") as log:
        qemu = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        notes: list[str] = []
        try:
            ssh = guest.wait_ready(addr, BOOT_DEADLINE, progress=notes.append)
            took = ssh + guest.wait_ready(addr, BOOT_DEADLINE - ssh, probe=guest.FIRST_BOOT_DONE)
        except guest.GuestUnreachableError:
            tail = console.read_text(errors="replace").splitlines()[-40:]
            print("\n".join(["--- console ---", *tail]))
            raise
        print(f"\nSSH answered {ssh:.1f} s after QEMU started, first boot done at {took:.1f} s")
        yield Booted(
            addr=addr, spec=spec, password_hash=password_hash, ssh_after=ssh, ready_after=took
        )
    finally:
        qemu.terminate()
        try:
            qemu.wait(10)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()


def _ok(addr: guest.GuestAddress, command: str) -> str:
    result = guest.run(addr, command, timeout=60)
    assert result.exit_code == 0, f"`{command}` failed: {result.stderr}"
    return result.stdout


def test_guest_is_ready_within_the_deadline(booted: Booted) -> None:
    assert booted.ready_after < BOOT_DEADLINE


def test_hostname_comes_from_the_seed(booted: Booted) -> None:
    assert _ok(booted.addr, "hostname").strip() == booted.spec.hostname


def test_the_pinned_host_key_is_the_only_one(booted: Booted) -> None:
    # Accepted above (every call pins it); the guest holds exactly the key we made.
    public = _ok(booted.addr, "sudo -n cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
    assert booted.spec.host_key is not None
    assert public == booted.spec.host_key[1].split()[:2]
    assert _ok(booted.addr, "sudo -n ls /etc/ssh/ | grep '^ssh_host_.*_key$'").split() == [
        "ssh_host_ed25519_key"
    ]


def test_a_wrong_pinned_host_key_is_rejected(booted: Booted, tmp_path: Path) -> None:
    impostor = keys.host_keypair(tmp_path, "impostor")
    wrong = booted.addr.model_copy(update={"host_key": impostor.public_text})
    with pytest.raises(guest.HostKeyMismatchError, match="changed"):
        guest.run(wrong, "true", timeout=30)


def test_the_account_exists_with_its_unicode_name_groups_and_password(booted: Booted) -> None:
    entry = _ok(booted.addr, "getent passwd olena").strip().split(":")
    assert entry[0] == "olena" and entry[4] == FULL_NAME and entry[6] == "/bin/bash"
    groups = _ok(booted.addr, "id -nG olena").split()
    assert {"staff", "teachers"} <= set(groups) and "sudo" not in groups
    shadow = _ok(booted.addr, "sudo -n getent shadow olena").split(":")
    assert shadow[1] == booted.password_hash


def test_the_management_user_has_passwordless_sudo_and_no_password(booted: Booted) -> None:
    assert _ok(booted.addr, "sudo -n id -u").strip() == "0"
    shadow = _ok(booted.addr, "sudo -n getent shadow labadmin").split(":")
    assert shadow[1].startswith("!")  # locked: the lab key is the only way in


def _address_lines(addr: guest.GuestAddress) -> str:
    """The guest's IPv4 addresses, waiting out a moment in which its NIC has none.

    Once in CI the NIC showed no IPv4 address although SSH had just connected through
    it. The cause is not known; the address must be back within 30 s, and networkd's log
    is printed each time the test has to wait, so the next occurrence says more.
    """
    for _ in range(30):
        lines = _ok(addr, "ip -4 -o addr show")
        if str(GUEST_IP) in lines:
            return lines
        print(_ok(addr, "sudo -n journalctl -b --no-pager -u systemd-networkd | tail -20"))
        time.sleep(1)
    return lines


def test_static_address_and_no_password_logins_over_ssh(booted: Booted) -> None:
    assert str(GUEST_IP) in _address_lines(booted.addr)
    # The address is the seed's static one: networkd applies cloud-init's file, not DHCP.
    status = _ok(booted.addr, "networkctl status --no-pager 'en*'")
    assert "Network File: /etc/systemd/network/10-cloud-init-" in status, status
    assert _ok(booted.addr, "sudo -n sshd -T | grep -i '^passwordauthentication'").split() == [
        "passwordauthentication",
        "no",
    ]


def test_time_zone_comes_from_the_seed_and_cloud_init_is_clean(booted: Booted) -> None:
    if guest.run(booted.addr, "test -e /usr/share/zoneinfo/Europe/Kyiv", 30).exit_code != 0:
        pytest.xfail("the image has no tzdata, so cloud-init cannot set Europe/Kyiv")
    assert _ok(booted.addr, "cat /etc/timezone").strip() == "Europe/Kyiv"
    assert "status: done" in _ok(booted.addr, "cloud-init status --long")
