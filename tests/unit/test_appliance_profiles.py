"""Appliances in profiles: what fits is taken, what does not is located and explained."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from lab.errors import InvalidError
from lab.labs.plan import plan_lab
from lab.profile import Problem, ProfileError, load_profile, load_profile_text

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
community: {name: t, title: "Т", oblast: "Київська", kind: rural}
networks:
  - {name: office, cidr: 10.20.0.0/24}
  - {name: dmz, cidr: 10.21.0.0/24}
machines:
  - name: ws
    image: debian-12
    memory: 512MiB
    nics: [{network: office}]
  - name: box
    image: vendor-box
    memory: 1GiB
    appliance:
%s
    nics:
%s
"""
HARDWARE = """\
      firmware: uefi
      machine_type: q35
      disk_bus: sata
      nic_model: e1000e
      ready: [{kind: http, path: /health, expect_text: ok}]"""
NICS = """\
      - {network: office, address: 10.20.0.50, mac: "00:50:56:AA:BB:CC"}"""


def profile_text(hardware: str = HARDWARE, nics: str = NICS, extra: str = "") -> str:
    return BASE % (hardware, nics) + extra


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ProfileError) as info:
        load_profile_text(text, "t.yaml")
    found: tuple[Problem, ...] = info.value.problems
    return [(p.path, p.message) for p in found]


def test_an_appliance_keeps_its_hardware_mac_and_address_in_the_plan() -> None:
    profile = load_profile_text(profile_text(), "t.yaml")
    plan = plan_lab(profile, "a1", "hlt-", Path("/labs"), IPv4Network("10.250.9.0/24"))
    box = plan.machine("box")
    assert not box.managed and box.management is None and box.seed is None
    assert box.nics[0].mac == "00:50:56:aa:bb:cc"  # normalised, kept from the source
    assert box.nics[0].address == IPv4Address("10.20.0.50")
    assert box.nvram == Path("/labs/a1/nvram/box.fd") and box.graphics
    assert [m.name for m in plan.managed_machines] == ["ws"]
    assert plan.probe_runner(box, 0).name == "ws"
    assert box.management_address == IPv4Address("10.20.0.50")


def test_the_sample_with_a_windows_workstation_validates() -> None:
    profile = load_profile(ROOT / "profiles" / "own-machines.yaml")
    windows = profile.machine("buh-ws")
    assert windows.appliance is not None and not windows.appliance.guest_agent
    assert [m.name for m in profile.machines if m.managed] == ["admin-ws"]


@pytest.mark.parametrize(
    ("hardware", "where", "words"),
    [
        ("      disk_bus: ide\n      machine_type: q35", "machines[1].appliance", "q35 has no IDE"),
        ("      firmware: uefi\n      disk_bus: scsi", "machines[1].appliance", "cannot boot"),
        ("      nic_model: vmxnet3", "machines[1].appliance.nic_model", "virtio"),
        ("      ready: [{kind: tcp}]", "machines[1].appliance.ready[0]", "needs a port"),
        ("      ready: [{kind: agent}]", "machines[1].appliance", "guest_agent"),
        ("      ready: [{kind: http, path: 'a b'}]", "machines[1].appliance.ready[0].path", "URL"),
        (
            "      ready: [{kind: tcp, port: 22, nic: 3}]",
            "machines[1].appliance.ready[0].nic",
            "no NIC 3",
        ),
    ],
)
def test_hardware_that_cannot_work_is_located(hardware: str, where: str, words: str) -> None:
    found = problems(profile_text(hardware))
    assert any(path == where and words in message for path, message in found), found


def test_an_appliance_nic_needs_the_address_it_is_configured_with() -> None:
    found = problems(profile_text(nics="      - {network: office}"))
    assert any(p == "machines[1].nics[0].address" and "configured with" in m for p, m in found), (
        found
    )


def test_an_address_outside_its_network_is_refused() -> None:
    found = problems(profile_text(nics="      - {network: office, address: 10.21.0.5}"))
    assert any(p == "machines[1].nics[0].address" and "not inside" in m for p, m in found)


def test_a_probe_needs_a_managed_machine_on_the_network() -> None:
    found = problems(profile_text(nics="      - {network: dmz, address: 10.21.0.5}"))
    assert any(
        p == "machines[1].appliance.ready[0]" and "no managed machine" in m for p, m in found
    ), found


def test_an_appliance_takes_no_roles_and_no_command_tests() -> None:
    text = profile_text().replace("    appliance:\n", "    roles: [web-portal]\n    appliance:\n")
    text += "tests:\n  - {name: x, machine: box, run: 'true'}\n"
    found = problems(text)
    assert any(p == "machines[1].roles" and "takes no roles" in m for p, m in found), found
    assert any(p == "tests[0].run" and "give this test a probe" in m for p, m in found), found


def test_macs_are_unicast_and_unique() -> None:
    found = problems(
        profile_text(
            nics='      - {network: office, address: 10.20.0.50, mac: "01:00:5e:00:00:01"}'
        )
    )
    assert any(p == "machines[1].nics[0].mac" and "multicast" in m for p, m in found), found
    two = NICS + '\n      - {network: dmz, address: 10.21.0.9, mac: "00:50:56:aa:bb:cc"}'
    found = problems(profile_text(nics=two))
    assert any(p == "machines[1].nics[1].mac" and "already used" in m for p, m in found), found


def test_a_probe_test_names_its_machine_and_only_command_checks_reach_ssh() -> None:
    text = profile_text() + (
        "tests:\n"
        "  - {name: page, machine: box, probe: {kind: http, expect_text: Docflow}, quick: true}\n"
        "  - {name: alive, run: 'true', quick: true}\n"
    )
    profile = load_profile_text(text, "t.yaml")
    plan = plan_lab(profile, "a1", "hlt-", Path("/labs"), IPv4Network("10.250.9.0/24"))
    assert [c.name for c in plan.quick_checks("ws")] == ["alive"]
    assert plan.quick_checks("box") == ()
    assert [c.name for c in plan.quick_probes("box")] == ["page"]
    found = problems(profile_text() + "tests:\n  - {name: p, probe: {kind: icmp}}\n")
    assert any("names its machine" in m for _, m in found), found


def test_the_admin_path_of_an_appliance_is_refused_with_a_hint() -> None:
    from lab.labs.deployment import admin_address

    profile = load_profile_text(profile_text(), "t.yaml")
    plan = plan_lab(profile, "a1", "hlt-", Path("/labs"), IPv4Network("10.250.9.0/24"))
    with pytest.raises(InvalidError, match="appliance"):
        admin_address(plan, plan.machine("box"))


def test_a_multi_disk_appliance_runs_every_disk_on_its_bus_with_its_own_hardware() -> None:
    from datetime import UTC, datetime

    from lab.driver.domain_xml import domain_xml
    from lab.driver.specs import CpuMode, VirtType
    from lab.host.facts import AccelChoice, Ovmf
    from lab.images.imports import ImportResult, profile_stanza
    from lab.images.model import Boot, Image, Source, SourceKind
    from lab.labs.driver_specs import domain_spec

    def image(name: str) -> Image:
        source = Source(kind=SourceKind.IMPORT, ref=f"{name}.vmdk", sha256="0" * 64)
        return Image(
            name=name,
            digest=name * 4,
            boot=Boot.BOOTLOADER,
            virtual_size=2**30,
            disk_size=2**20,
            created=datetime.now(UTC),
            source=source,
        )

    images = (image("box"), image("box-disk2"))
    stanza = profile_stanza(ImportResult(images=images, hints=None), "box")
    # The stanza `lab image import` printed, completed as its comments ask.
    completed = stanza.replace("CHANGE-ME", "office", 1).replace("CHANGE-ME", "10.20.0.60")
    full = (
        BASE.split("machines:\n")[0]
        + "machines:\n"
        + "  - {name: ws, image: debian-12, memory: 512MiB, nics: [{network: office}]}\n"
        + "\n".join("  " + line for line in completed.splitlines())
        + "\n"
    )
    profile = load_profile_text(full, "t.yaml")
    plan = plan_lab(profile, "a1", "hlt-", Path("/labs"), IPv4Network("10.250.9.0/24"))
    box = plan.machine("box")
    assert [(layer, img) for layer, img in box.images] == [
        ("box", "box"),
        ("box.disk2", "box-disk2"),
    ]
    accel = AccelChoice(virt_type=VirtType.QEMU, cpu=CpuMode.NEHALEM, reason="test")
    ovmf = Ovmf(code=Path("/usr/share/OVMF/OVMF_CODE_4M.fd"), vars_template=Path("/v.fd"))
    xml = domain_xml(domain_spec(plan, box, images[0], None, accel, ovmf=ovmf))  # type: ignore[arg-type]
    assert "<seed" not in xml and "-seed.iso" not in xml  # no cloud-init for an appliance
    for overlay, target in ((box.overlay, "sda"), (box.extra_disks[0].overlay, "sdb")):
        assert f'file="{overlay}"' in xml and f'dev="{target}" bus="sata"' in xml
    assert 'type="e1000e"' in xml and xml.count("<interface") == 1  # no management NIC


def test_the_access_sheet_shows_an_appliances_logins_and_no_ssh_path(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from api.schemas import AccessSheetPublic
    from lab.classes import access_sheet
    from lab.labs.records import LabRecord, LabStatus

    text = profile_text(
        HARDWARE + "\n      logins: [{user: admin, password: docflow-admin, note: web UI}]"
    )
    profile = load_profile_text(text, "t.yaml")
    plan = plan_lab(profile, "c-01", "hlt-", tmp_path, IPv4Network("10.250.9.0/24"))
    at = datetime.now(UTC)
    record = LabRecord(
        name="c-01",
        profile="t",
        profile_path="t.yaml",
        status=LabStatus.RUNNING,
        plan=plan,
        spec=profile,
        created_at=at,
        updated_at=at,
    )
    ws, box = access_sheet._machines(record, profile)
    assert box.appliance_logins == ("admin / docflow-admin (web UI)",) and not box.managed
    assert box.address == "10.20.0.50" and box.graphics
    assert ws.managed and ws.appliance_logins == ()
    sheet = access_sheet.AccessSheet(
        class_name="c",
        title="Т",
        made_at=at,
        made_by="trainer",
        entries=(
            access_sheet.SheetEntry(seat="c-01", login="c-01", password="p", machines=(ws, box)),
        ),
    )
    public = AccessSheetPublic.from_sheet(sheet, "https://lab.example")
    machines = public.entries[0].machines
    assert machines[0].ssh_command == "lab ssh c-01 ws"
    assert machines[1].ssh_command == "" and machines[1].appliance_logins == [
        "admin / docflow-admin (web UI)"
    ]
    from api.sheet_pdf import render

    assert render(public).startswith(b"%PDF")  # the printed sheet takes it too


# -- probes with a client: smb, ldap, sql -----------------------------------------------

ACCOUNTS = 'accounts:\n  - {name: operator, full_name: "Оператор", kind: staff}\n'
WS2 = """\
  - name: ws2
    image: debian-12
    memory: 512MiB
    nics: [{network: office}]
"""


def with_probe(probe: str, extra: str = ACCOUNTS) -> str:
    hardware = f"      ready: [{probe}]"
    text = profile_text(hardware, extra=extra)
    return text.replace("machines:\n", "machines:\n" + WS2, 1)


@pytest.mark.parametrize(
    ("probe", "words"),
    [
        ("{kind: sql, database: db, query: select 1}", "a user or an account"),
        ("{kind: sql, user: op, query: select 1}", "needs a database"),
        ("{kind: smb, account: operator, user: x}", "not both"),
        ("{kind: smb, account: operator, password: x}", "not both"),
        ("{kind: ldap, password: secret}", "needs a user"),
        ("{kind: ldap, share: docs}", "share belongs to smb"),
        ("{kind: smb, query: select 1}", "belong to sql"),
        ("{kind: http, user: x}", "belongs to smb/ldap/sql"),
        ("{kind: tcp, port: 22, account: operator}", "belongs to smb/ldap/sql"),
        ("{kind: icmp, expect_text: x}", "expect_text belongs"),
        ("{kind: smb, user: 'a%b'}", "'%'"),
        ("{kind: tcp, port: 22, path: /x}", "path belongs"),
    ],
)
def test_a_client_probe_that_cannot_work_is_located(probe: str, words: str) -> None:
    found = problems(with_probe(probe))
    assert any(p == "machines[2].appliance.ready[0]" and words in m for p, m in found), found


@pytest.mark.parametrize(
    ("probe", "field"),
    [
        ("{kind: smb, share: 'a b'}", "share"),
        ("{kind: sql, user: op, database: 1db, query: select 1}", "database"),
        ('{kind: ldap, user: "uid=a\\nb"}', "user"),
        ("{kind: ldap, user: -x}", "user"),
        ('{kind: sql, user: op, database: db, query: "select 1;\\nselect 2"}', "query"),
        ('{kind: ldap, user: "cn=a", password: "a\\nb"}', "password"),
        ("{kind: smb, account: Operator}", "account"),
        ("{kind: smb, runner: WS}", "runner"),
    ],
)
def test_a_bad_client_probe_field_is_located(probe: str, field: str) -> None:
    found = problems(with_probe(probe))
    assert any(p == f"machines[2].appliance.ready[0].{field}" for p, _ in found), found


def test_a_password_is_never_in_a_probes_repr_or_a_problem() -> None:
    found = problems(with_probe('{kind: ldap, user: "a\\nb", password: "s3cr3t-pw"}'))
    assert found and not any("s3cr3t-pw" in m for _, m in found)
    profile = load_profile_text(with_probe("{kind: smb, user: op, password: s3cr3t-pw}"), "t.yaml")
    (probe,) = profile.machine("box").appliance.ready  # type: ignore[union-attr]
    assert probe.password == "s3cr3t-pw" and "s3cr3t-pw" not in repr(probe)


@pytest.mark.parametrize(
    ("runner", "words"),
    [
        ("nope", "'nope' is not a managed machine"),
        ("box", "'box' is not a managed machine"),
    ],
)
def test_a_runner_must_be_a_managed_machine(runner: str, words: str) -> None:
    found = problems(with_probe(f"{{kind: smb, runner: {runner}}}"))
    assert any(p == "machines[2].appliance.ready[0].runner" and words in m for p, m in found), found


def test_a_runner_must_be_on_the_probed_network() -> None:
    text = with_probe("{kind: smb, runner: ws2}").replace(
        "  - name: ws2\n    image: debian-12\n    memory: 512MiB\n    nics: [{network: office}]",
        "  - name: ws2\n    image: debian-12\n    memory: 512MiB\n    nics: [{network: dmz}]",
    )
    found = problems(text)
    assert any(
        p == "machines[2].appliance.ready[0].runner" and "no NIC on network 'office'" in m
        for p, m in found
    ), found


def test_a_probe_test_with_a_runner_is_checked_too() -> None:
    text = with_probe("{kind: tcp, port: 22}") + (
        "tests:\n  - {name: shares, machine: box, probe: {kind: smb, runner: nope}}\n"
    )
    found = problems(text)
    assert any(p == "tests[0].probe.runner" and "nope" in m for p, m in found), found


def test_an_account_must_be_an_account_of_the_profile() -> None:
    found = problems(with_probe("{kind: ldap, account: nobody}"))
    assert any(
        p == "machines[2].appliance.ready[0].account" and "not an account" in m for p, m in found
    ), found


def test_the_runner_and_the_account_reach_the_probe_spec() -> None:
    from lab.labs.appliances import spec_of

    probe = "{kind: sql, account: operator, database: docflow, query: select 1, runner: ws2}"
    profile = load_profile_text(with_probe(probe), "t.yaml")
    plan = plan_lab(profile, "a1", "hlt-", Path("/labs"), IPv4Network("10.250.9.0/24"))
    box = plan.machine("box")
    assert box.appliance is not None
    (ready,) = box.appliance.ready
    assert plan.probe_runner(box, 0).name == "ws2"  # the first managed machine on office
    assert plan.probe_runner(box, 0, "ws").name == "ws"
    assert plan.probe_runner(box, 0, ready.runner).name == "ws2"
    with pytest.raises(InvalidError, match="'nope'"):
        plan.probe_runner(box, 0, "nope")
    spec = spec_of(box, ready, {"operator": "pw-of-operator"})
    assert (spec.user, spec.password, spec.port) == ("operator", "pw-of-operator", 5432)
    assert (spec.database, spec.query) == ("docflow", "select 1")
    assert spec.describe() == "SQL 'select 1' on postgres://operator@10.20.0.50:5432/docflow"
    with pytest.raises(InvalidError, match="no password") as info:
        spec_of(box, ready, {})
    assert "pw-of-operator" not in str(info.value)


def test_run_probes_groups_by_the_chosen_runner_and_logs_in_as_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from collections.abc import Sequence
    from typing import cast

    from lab.driver.connection import Driver
    from lab.labs import appliances, deployment
    from lab.labs.guest import GuestAddress
    from lab.probes import remote
    from lab.probes.model import ProbeResult, ProbeSpec

    probes = (
        "{kind: tcp, port: 22}, {kind: smb, account: operator, runner: ws},"
        " {kind: ldap, runner: ws}"
    )
    profile = load_profile_text(with_probe(probes), "t.yaml")
    plan = plan_lab(profile, "a1", "hlt-", tmp_path, IPv4Network("10.250.9.0/24"))
    plan.keys_dir.mkdir(parents=True)
    (plan.keys_dir / "passwords.json").write_text(json.dumps({"operator": "pw-op"}))
    box = plan.machine("box")
    assert box.appliance is not None
    ran: list[tuple[str, list[ProbeSpec]]] = []

    def fake_address(_plan: object, machine: object) -> GuestAddress:
        host = {"ws": "10.0.0.1", "ws2": "10.0.0.2"}[getattr(machine, "name", "")]
        return GuestAddress(host=host, user="labadmin", key=Path("/nonexistent"))

    def fake_run(
        addr: GuestAddress, specs: Sequence[ProbeSpec], timeout: float
    ) -> tuple[ProbeResult, ...]:
        ran.append((addr.host, list(specs)))
        return tuple(ProbeResult(spec=s, ok=True, detail="fine") for s in specs)

    monkeypatch.setattr(deployment, "admin_address", fake_address)
    monkeypatch.setattr(remote, "run_probes", fake_run)
    results = appliances.run_probes(cast(Driver, None), plan, box, box.appliance.ready)
    assert all(r.ok for r in results) and len(results) == 3
    by_runner = {host: [s.kind.value for s in specs] for host, specs in ran}
    assert by_runner == {"10.0.0.1": ["smb", "ldap"], "10.0.0.2": ["tcp"]}
    smb = next(s for _, specs in ran for s in specs if s.kind.value == "smb")
    assert (smb.user, smb.password) == ("operator", "pw-op")


def test_probe_checks_name_the_chosen_runner_and_carry_the_accounts_password(
    tmp_path: Path,
) -> None:
    import json

    from lab.software.verification import probe_checks

    text = with_probe("{kind: tcp, port: 22}") + (
        "tests:\n"
        "  - {name: shares, machine: box, probe: {kind: smb, account: operator, runner: ws}}\n"
        "  - {name: ssh, machine: box, probe: {kind: tcp, port: 22}}\n"
    )
    plan = plan_lab(
        load_profile_text(text, "t.yaml"), "a1", "hlt-", tmp_path, IPv4Network("10.250.9.0/24")
    )
    plan.keys_dir.mkdir(parents=True)
    (plan.keys_dir / "passwords.json").write_text(json.dumps({"operator": "pw-op"}))
    shares, ssh = probe_checks(plan)
    assert (shares["name"], shares["runner"], ssh["runner"]) == ("shares", "ws", "ws2")
    assert (shares["spec"]["user"], shares["spec"]["password"]) == ("operator", "pw-op")
