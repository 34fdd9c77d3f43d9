"""Templates on real guests: the session's provisioned stack lab (profiles/stack.yaml, four
roles on a 1 GiB machine) gives the template `stack` (conftest: stack_lab); three labs are
cloned from it, each verified, each with its own management path, host key, lab key and
passwords; a change in one is seen nowhere else; a class of four seats comes from it;
taking a clone down leaves the template whole; deleting it while in use is refused.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.baselines import resets
from lab.classes import classes
from lab.driver.connection import Driver
from lab.driver.filter_bindings import bindings_of, matches
from lab.errors import ConflictError, LabError
from lab.labs import guest, keys, lifecycle, passwords
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.templates import clones, templates
from lab.templates.store import TemplateStore, digests_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

TEMPLATE = "stack"  # made by the conftest's stack_lab fixture from lab st1
CLONES = ("tc1", "tc2", "tc3")


@pytest.fixture(scope="module")
def clones3(settings: Settings, stack_lab: LabRecord) -> Iterator[dict[str, LabRecord]]:
    lines: list[str] = []
    with ThreadPoolExecutor(max_workers=len(CLONES)) as pool:
        made = list(
            pool.map(
                lambda n: clones.clone(settings, TEMPLATE, n, lambda s, m: lines.append(m)),
                CLONES,
            )
        )
    assert all("ready (verified)" in line for line in lines if "cloned from" in line), lines
    yield {r.name: r for r in made}
    for name in CLONES:
        lifecycle.down(settings, name)


def in_lab(settings: Settings, lab: str, command: str) -> guest.CommandResult:
    return guest.run(lifecycle.guest_address(settings, lab, "srv"), command, timeout=120)


def template_is_whole(settings: Settings) -> None:
    """Every file of the template is there and still what its digest says."""
    store = TemplateStore(settings)
    for digest in digests_of(store.get(TEMPLATE).machines):
        with store.blob(digest).open("rb") as f:
            assert hashlib.file_digest(f, "sha256").hexdigest() == digest


def test_each_clone_is_verified_on_a_management_path_of_its_own(
    settings: Settings, clones3: dict[str, LabRecord], stack_lab: LabRecord
) -> None:
    subnets = {r.plan.management.cidr for r in clones3.values()}
    assert len(subnets) == len(CLONES) and stack_lab.plan.management.cidr not in subnets
    for name, record in clones3.items():
        assert record.template == TEMPLATE and record.status == "running"
        machine = record.plan.machine("srv")
        assert machine.management is not None
        shown = in_lab(
            settings, name, f"ip -4 -o addr show | grep -c {machine.management.address}/"
        )
        assert shown.stdout.strip() == "1"
        # Nothing of the template's management address is left in the clone.
        template_address = stack_lab.plan.machine("srv").management_address
        gone = in_lab(settings, name, "ip -4 -o addr show; cat /etc/systemd/network/*.network")
        assert f"{template_address}/" not in gone.stdout
    # Each clone's lab NIC is filtered from its first instruction: a tap of its own under
    # a binding libvirt holds for the clone, at the template's planned address.
    taps = set()
    with Driver.open(settings.libvirt_uri) as driver:
        for record in (*clones3.values(), stack_lab):
            machine = record.plan.machine("srv")
            (binding,) = bindings_of(driver.domain_xml(machine.domain))
            held = driver.filter_binding(binding.portdev)
            assert held is not None and matches(held, binding)
            assert binding.owner == machine.domain
            assert binding.parameters == {"IP": str(machine.nics[0].address)}
            taps.add(binding.portdev)
    assert len(taps) == len(CLONES) + 1
    # The clone's key and pinned host key do not open the template's machine, nor another
    # clone's: each clone is reached only on its own management address.
    mine = lifecycle.guest_address(settings, "tc1", "srv")
    for other in ("tc2", stack_lab.name):
        elsewhere = lifecycle.guest_address(settings, other, "srv").host
        with pytest.raises(LabError):
            guest.run(mine.model_copy(update={"host": elsewhere}), "true", timeout=30)


def test_each_clone_has_its_own_host_key_lab_key_and_passwords(
    settings: Settings, clones3: dict[str, LabRecord], stack_lab: LabRecord
) -> None:
    labs = {**clones3, stack_lab.name: stack_lab}
    host_keys = {}
    for name, record in labs.items():
        pinned = keys.host_keypair(record.plan.keys_dir, "srv").public_text.split()[1]
        served = in_lab(
            settings, name, "sudo -n sh -c 'cat /etc/ssh/ssh_host_*_key.pub'"
        ).stdout.split()
        assert served[1] == pinned and served.count("ssh-ed25519") == 1, served
        host_keys[name] = pinned
        lab_key = keys.ensure_keypair(record.plan.keys_dir, "").public_text.split()[1]
        authorized = in_lab(settings, name, "cat ~/.ssh/authorized_keys").stdout
        assert authorized.count("ssh-") == 1 and lab_key in authorized
    assert len(set(host_keys.values())) == len(labs)
    secrets = {n: passwords.known_passwords(r.plan.keys_dir)["operator"] for n, r in labs.items()}
    assert len(set(secrets.values())) == len(labs)
    for name in clones3:
        shadow = in_lab(settings, name, "sudo getent shadow operator | cut -d: -f2").stdout.strip()
        assert _crypt(secrets[name], shadow) == shadow
        assert _crypt(secrets[stack_lab.name], shadow) != shadow
        # Samba took the clone's password too (the file-server role's rekey.sh).
        for password, works in ((secrets[name], True), (secrets[stack_lab.name], False)):
            login = in_lab(
                settings,
                name,
                f"PASSWD={password} smbclient -U operator //127.0.0.1/cnap -c ls >/dev/null 2>&1",
            )
            assert (login.exit_code == 0) is works, (name, works)


def test_a_change_in_one_clone_is_seen_nowhere_else(
    settings: Settings, clones3: dict[str, LabRecord], stack_lab: LabRecord
) -> None:
    in_lab(settings, "tc1", "sudo sh -c 'echo tc1 > /etc/only-in-tc1 && systemctl stop nginx'")
    for name in ("tc2", "tc3", stack_lab.name):
        assert in_lab(settings, name, "test -e /etc/only-in-tc1").exit_code == 1
        assert in_lab(settings, name, "systemctl is-active nginx").stdout.strip() == "active"
    template_is_whole(settings)
    # A reset of the clone goes back to the template's state, with the clone's identity.
    record = resets.reset(settings, "tc1")
    assert record.ok and record.mode == "memory", record
    assert in_lab(settings, "tc1", "test -e /etc/only-in-tc1").exit_code == 1
    assert in_lab(settings, "tc1", "systemctl is-active nginx").stdout.strip() == "active"


def test_a_class_of_four_seats_from_the_template(
    settings: Settings, clones3: dict[str, LabRecord]
) -> None:
    record, outcomes = classes.create(settings, None, "tk", 4, template=TEMPLATE)
    try:
        assert all(o.ok for o in outcomes), outcomes
        assert record.template == TEMPLATE
        for seat in record.seats:
            assert in_lab(settings, seat, "systemctl is-active smbd").stdout.strip() == "active"
        assert set(templates.get_template(settings, TEMPLATE).used_by) >= set(record.seats)
    finally:
        classes.delete(settings, "tk")


def test_down_of_a_clone_leaves_the_template_whole_and_deleting_it_in_use_is_refused(
    settings: Settings, clones3: dict[str, LabRecord]
) -> None:
    lifecycle.down(settings, "tc3")
    template_is_whole(settings)
    info = templates.get_template(settings, TEMPLATE)
    assert "tc3" not in info.used_by and {"tc1", "tc2"} <= set(info.used_by)
    with pytest.raises(ConflictError, match="in use by lab"):
        templates.delete(settings, TEMPLATE)
    template_is_whole(settings)


def _crypt(password: str, shadow: str) -> str:
    """`password` hashed with the salt of the SHA-512 crypt hash `shadow`."""
    salt = shadow.split("$")[2]
    made = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.strip()
