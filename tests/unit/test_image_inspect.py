"""`lab image inspect`: virt-inspector's XML read as data (fixtures written as it writes
them for a Debian disk, a Windows disk, a disk with no OS), the software list made from it,
that list written into a profile file, and the command itself with a stand-in
virt-inspector on PATH (only a missing virt-inspector is mocked)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lab.cli import image as image_cli
from lab.errors import HostError, InvalidError, NotFoundError
from lab.images import ImageStore
from lab.images.inspect import InspectionError, inspect_images
from lab.images.inspection import (
    MAX_ROOTS,
    DiskInspection,
    Inspection,
    InstalledPackage,
    OsInfo,
    parse_inspector_xml,
    software_of,
)
from lab.profile import ProfileError, load_profile
from lab.profile.edits import write_software
from lab.profile.software import PermissionState, Software, SoftwareKind
from lab.settings import Accel, Settings, get_settings

FIXTURES = Path(__file__).parent / "fixtures" / "inspector"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parsed(name: str) -> DiskInspection:
    return parse_inspector_xml(fixture(name), ("disk",))


# -- reading the XML ---------------------------------------------------------------------------


def test_debian_disk_os_and_packages() -> None:
    inspection = parsed("debian.xml")
    assert inspection.notes == ()
    (system,) = inspection.systems
    assert system.os == OsInfo(
        root="/dev/sda",
        type="linux",
        distro="debian",
        product_name="12.7",
        major=12,
        minor=7,
        arch="x86_64",
        hostname="cnap-srv",
        package_format="deb",
    )
    by_name = {(p.name, p.arch): p for p in system.packages}
    assert len(system.packages) == 6
    ssh = by_name["openssh-server", "amd64"]
    assert (ssh.epoch, ssh.version, ssh.release) == (1, "9.2p1", "2+deb12u3")
    assert ssh.full_version == "1:9.2p1-2+deb12u3"
    assert by_name["adduser", "all"].full_version == "3.134"  # a native package: no revision
    assert by_name["cloud-init", "all"].full_version == "22.4.2-1+deb12u4"
    assert system.notes == ()


def test_windows_disk_lists_registered_programs_and_says_what_it_cannot() -> None:
    (system,) = parsed("windows.xml").systems
    assert (system.os.type, system.os.product_name, system.os.major, system.os.minor) == (
        "windows",
        "Windows Server 2019 Standard",
        10,
        0,
    )
    assert system.os.hostname == "WIN-BUHOBLIK" and system.os.package_format == ""
    medoc = next(p for p in system.packages if p.display_name.startswith("M.E.Doc"))
    assert medoc.publisher == 'ТОВ "Інтелект-Сервіс"' and medoc.version == "11.02.090"
    assert any("per-user installs" in note for note in system.notes)
    assert not any("no programs" in note for note in system.notes)


def test_windows_disk_without_applications_says_so() -> None:
    xml = fixture("windows.xml")
    xml = xml[: xml.index(b"<applications>")] + xml[xml.index(b"</applications>") + 15 :]
    (system,) = parse_inspector_xml(xml, ("win",)).systems
    assert system.packages == ()
    assert any("no programs were read from the registry" in n for n in system.notes)
    # The OS itself is still an entry of the software list.
    assert [e.kind for e in software_of(parse_inspector_xml(xml, ("win",))).entries] == ["os"]


def test_disk_without_an_os_is_a_note_not_an_error() -> None:
    inspection = parsed("no-os.xml")
    assert inspection.systems == ()
    (note,) = inspection.notes
    assert "no operating system was found" in note and "encrypted" in note
    assert software_of(inspection).entries == ()


def test_linux_without_a_package_database_says_so() -> None:
    xml = (
        b"<operatingsystems><operatingsystem><root>/dev/sda1</root><name>linux</name>"
        b"<distro>unknown</distro><applications/></operatingsystem></operatingsystems>"
    )
    (system,) = parse_inspector_xml(xml, ("d",)).systems
    assert any("no installed packages were read" in n for n in system.notes)
    assert any("version could not be read" in n for n in system.notes)


def test_multi_os_disk_reports_each_root() -> None:
    debian = fixture("debian.xml")
    windows = fixture("windows.xml")
    body = b"".join(
        x[x.index(b"<operatingsystem>") : x.index(b"</operatingsystems>")]
        for x in (windows, debian)
    )
    inspection = parse_inspector_xml(b"<operatingsystems>" + body + b"</operatingsystems>", ("d",))
    assert [s.os.root for s in inspection.systems] == ["/dev/sda2", "/dev/sda"]
    products = [e.product for e in software_of(inspection).entries if e.kind == "os"]
    assert products == ["Windows Server 2019 Standard", "Debian GNU/Linux"]
    many = b"<operatingsystems>" + body * MAX_ROOTS + b"</operatingsystems>"
    assert len(parse_inspector_xml(many, ("d",)).systems) == MAX_ROOTS


def test_strings_from_the_disk_are_plain_bounded_text() -> None:
    name = "evil\u202egnp.exe\n\t\u0085[31m" + "x" * 500
    xml = (
        "<operatingsystems><operatingsystem><root>/dev/sda1</root><name>linux</name>"
        f"<hostname>{'h' * 1000}</hostname><applications><application>"
        f"<name>{name}</name><version>1.0&#10;rm -rf /</version></application>"
        "</applications></operatingsystem></operatingsystems>"
    ).encode()
    (system,) = parse_inspector_xml(xml, ("d",)).systems
    (package,) = system.packages
    assert package.name.startswith("evil gnp.exe [31m") and len(package.name) == 200
    assert package.version == "1.0 rm -rf /"
    assert len(system.os.hostname) == 255
    assert any("cut short" in n for n in system.notes)
    assert all(c.isprintable() for c in package.name + package.version)


@pytest.mark.parametrize(
    "xml",
    [
        b"not xml at all",
        b"<domain/>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><operatingsystems>&b;'
        b"</operatingsystems>",
    ],
)
def test_what_is_not_virt_inspectors_answer_is_refused(xml: bytes) -> None:
    with pytest.raises(InvalidError) as caught:
        parse_inspector_xml(xml, ("d",))
    assert "virt-inspector" in caught.value.message and caught.value.hint


# -- the software list ------------------------------------------------------------------------


def test_software_list_of_a_debian_disk() -> None:
    result = software_of(parsed("debian.xml"))
    assert result.notes == ()
    first, *packages = result.entries
    assert (first.product, first.vendor, first.version, first.kind) == (
        "Debian GNU/Linux",
        "Debian Project",
        "12.7",
        SoftwareKind.OS,
    )
    assert first.package is None
    versions = {e.package: e.version for e in packages}
    assert versions == {
        "adduser": "3.134",
        "cloud-init": "22.4.2-1+deb12u4",
        "libc6": "2.36-9+deb12u10",  # amd64 and i386: one entry
        "openssh-server": "1:9.2p1-2+deb12u3",
        "postgresql-15": "15.8-0+deb12u1",
    }
    assert all(e.kind is SoftwareKind.PACKAGE and e.product == e.package for e in packages)
    # Whether a vendor's permission is needed is not something a disk tells.
    assert all(e.permission.state is PermissionState.NONE for e in result.entries)


def test_software_list_of_a_windows_disk_drops_what_a_profile_cannot_hold() -> None:
    result = software_of(parsed("windows.xml"))
    os_entry, *programs = result.entries
    assert (os_entry.product, os_entry.vendor, os_entry.version) == (
        "Windows Server 2019 Standard",
        "Microsoft",
        "10.0",
    )
    by_product = {e.product: e for e in programs}
    assert by_product["7-Zip 19.00 (x64)"].vendor == "Igor Pavlov"
    assert by_product["M.E.Doc 11.02.090"].version == "11.02.090"
    assert all(e.package is None for e in programs)  # a registry key is no package name
    eusign = by_product["ІІТ Користувач ЦСК-1 (версія 1.3.1.183)"]
    assert eusign.version == ""  # "1.3.1 build 183" is no version a profile holds
    (note,) = result.notes
    assert "1 versions a profile cannot hold were left out" in note and "build 183" in note


def test_entries_that_cannot_be_expressed_are_left_out_and_noted() -> None:
    system = Inspection(
        os=OsInfo(root="/dev/sda1", type="linux"),
        packages=(
            InstalledPackage(name="Weird_Name", version="1.0"),  # no Debian package name
            InstalledPackage(name="x", display_name="{{ lookup('pipe', 'id') }}"),
            InstalledPackage(name="long", version="1." + "9" * 80),
        ),
    )
    result = software_of(DiskInspection(images=("d",), systems=(system,)))
    products = [(e.product, e.version, e.package) for e in result.entries]
    assert products == [
        ("linux system", "", None),
        ("Weird_Name", "1.0", None),
        ("long", "", "long"),
    ]
    assert any("1 entries a profile cannot hold" in n for n in result.notes)
    assert any("versions a profile cannot hold" in n for n in result.notes)


# -- writing into a profile file ----------------------------------------------------------------

PROFILE = """\
# The community's own machines, as the Centre received them.
community:
  name: intake  # the short name
  title: "Прийом дисків"
  oblast: "Київська"
  kind: rural

networks:
  - name: office
    cidr: 10.77.0.0/24

machines:
  # The document-flow server the community handed over.
  - name: docs
    image: debian-12
    memory: 512MiB
    nics:
      - network: office
    software:
      # described by hand, from the vendor's letter
      - product: "Документообіг"
        vendor: "ТОВ Вендор"
        kind: document-flow
        version: "3.2"
      - {product: "old-package", version: "0.1", kind: package, package: old-package}
      - {product: "Debian GNU/Linux", version: "11.0", kind: os}
  - {name: ws, image: debian-12, memory: 512MiB, nics: [{network: office}]}
"""


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "intake.yaml"
    path.write_text(PROFILE)
    return path


def entries() -> tuple[Software, ...]:
    return software_of(parsed("debian.xml")).entries


def test_into_replaces_inspected_entries_and_keeps_the_rest(profile: Path) -> None:
    assert write_software(profile, "docs", entries()) == (1, 6)
    text = profile.read_text()
    for kept in (
        "# The community's own machines, as the Centre received them.",
        "  name: intake  # the short name",
        "  # The document-flow server the community handed over.",
        "      # described by hand, from the vendor's letter",
        '      - product: "Документообіг"',
        "  - {name: ws, image: debian-12, memory: 512MiB, nics: [{network: office}]}",
    ):
        assert kept in text
    assert "old-package" not in text and '"11.0"' not in text
    assert (
        '      - {product: "openssh-server", version: "1:9.2p1-2+deb12u3", kind: package,'
        ' package: "openssh-server"}' in text
    )
    docs = load_profile(profile).machines[0]
    assert [s.product for s in docs.software][:2] == ["Документообіг", "Debian GNU/Linux"]
    assert docs.software[-1].version == "15.8-0+deb12u1"
    # Once more: the same file (inspected entries replaced, not added again).
    write_software(profile, "docs", entries())
    assert profile.read_text() == text
    assert not [p for p in profile.parent.iterdir() if p.name.startswith(".")]


def test_into_a_package_described_by_hand_takes_the_version_found(tmp_path: Path) -> None:
    # A product described by hand that is one of the packages found (by its `package`,
    # or its name) is not listed twice (which the profile would refuse): it takes the
    # version the disk has and keeps what the hand wrote.
    path = tmp_path / "hand.yaml"
    path.write_text(
        PROFILE.replace(
            '        version: "3.2"\n',
            '        version: "3.2"\n'
            '      - {product: "OpenSSH", version: "9.0", kind: security,'
            " package: openssh-server}\n"
            '      - {product: "PostgreSQL-15", kind: database, licence: PostgreSQL}\n',
        )
    )
    kept, written = write_software(path, "docs", entries())
    assert (kept, written) == (3, 4)
    docs = load_profile(path).machines[0]
    by_product = {s.product: s for s in docs.software}
    assert by_product["OpenSSH"].version == "1:9.2p1-2+deb12u3"
    assert by_product["OpenSSH"].kind.value == "security"
    assert by_product["PostgreSQL-15"].version == "15.8-0+deb12u1"
    assert by_product["PostgreSQL-15"].licence == "PostgreSQL"
    assert "openssh-server" not in by_product and "postgresql-15" not in by_product


def test_into_a_flow_machine_and_a_machine_without_software(profile: Path) -> None:
    write_software(profile, "ws", entries()[:2])
    ws = load_profile(profile).machines[1]
    assert [s.product for s in ws.software] == ["Debian GNU/Linux", "adduser"]
    assert "  - name: ws\n    image: debian-12\n" in profile.read_text()


def test_into_the_last_machine_keeps_the_lines_before_the_next_key(tmp_path: Path) -> None:
    tail = '\n# What the lab checks.\ntests:\n  - name: alive\n    run: "true"\n'
    path = tmp_path / "last.yaml"
    path.write_text(PROFILE.split("  - {name: ws")[0] + tail)
    write_software(path, "docs", entries())
    text = path.read_text()
    assert text.endswith('package: "postgresql-15"}\n' + tail), text[-300:]
    write_software(path, "docs", entries()[:1])  # shorter: the lines follow its new end
    assert path.read_text().endswith("kind: os}\n" + tail)
    write_software(path, "docs", entries())
    assert path.read_text() == text


def test_into_refuses_a_machine_the_file_does_not_have(profile: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        write_software(profile, "mail", entries())
    assert "no machine 'mail'" in caught.value.message
    assert profile.read_text() == PROFILE
    (tmp_path / "child.yaml").write_text(
        "extends: intake.yaml\ncommunity: {name: child}\nmachines:\n"
        "  - {name: extra, image: debian-12, memory: 512MiB, nics: [{network: office}]}\n"
    )
    with pytest.raises(NotFoundError) as caught:
        write_software(tmp_path / "child.yaml", "docs", entries())
    assert "may come from its base 'intake.yaml'" in caught.value.message


def test_into_an_invalid_result_leaves_the_file_as_it_was(profile: Path) -> None:
    broken = PROFILE.replace("memory: 512MiB\n    nics", "memory: lots\n    nics")
    profile.write_text(broken)
    with pytest.raises(ProfileError) as caught:
        write_software(profile, "docs", entries())
    assert str(profile) in caught.value.message and "memory" in caught.value.message
    assert "left as it was" in caught.value.hint
    assert profile.read_text() == broken
    assert [p.name for p in profile.parent.iterdir()] == ["intake.yaml"]


def test_into_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("machines: [\n")
    with pytest.raises(InvalidError, match="not valid YAML"):
        write_software(path, "docs", entries())
    with pytest.raises(NotFoundError):
        write_software(tmp_path / "none.yaml", "docs", entries())


# -- running virt-inspector ----------------------------------------------------------------------


@pytest.fixture
def stored(tmp_path: Path) -> Settings:
    """A store holding image `appliance` (a 1 MiB bootable raw disk, imported)."""
    settings = Settings(home=tmp_path / "home", accel=Accel.TCG)
    disk = tmp_path / "appliance.img"
    data = bytearray(1024 * 1024)
    data[510:512] = b"\x55\xaa"
    disk.write_bytes(bytes(data))
    ImageStore(settings).import_file(disk, "appliance", lambda step: None)
    return settings


def fake_inspector(bin_dir: Path, body: str) -> Path:
    """A stand-in virt-inspector on PATH: `body` is its shell script."""
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / "virt-inspector"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def test_inspect_runs_virt_inspector_read_only_with_the_format_given(
    stored: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    fake_inspector(
        tmp_path / "bin",
        f'echo "$@" > {calls}; env | grep ^LIBGUESTFS_ | sort >> {calls};'
        f" cat {FIXTURES}/debian.xml",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    steps: list[str] = []
    inspection = inspect_images(stored, ["appliance"], steps.append)
    assert inspection.images == ("appliance",) and len(inspection.systems[0].packages) == 6
    args, *env = calls.read_text().splitlines()
    disk = ImageStore(stored).disk_path(ImageStore(stored).get("appliance"))
    assert args == f"--no-icon --keys-from-stdin --format=qcow2 -a {disk}"
    assert "--no-applications" not in args
    assert env == ["LIBGUESTFS_BACKEND=direct", "LIBGUESTFS_BACKEND_SETTINGS=force_tcg"]
    assert "software emulation" in steps[0] and "6 packages" in steps[-1]


def test_a_failing_virt_inspector_is_an_inspection_error(
    stored: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_inspector(tmp_path / "bin", "echo 'libguestfs: error: guestfs_launch failed' >&2; exit 1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    with pytest.raises(InspectionError) as caught:
        inspect_images(stored, ["appliance"], lambda step: None)
    assert "guestfs_launch failed" in caught.value.message
    assert "libguestfs-test-tool" in caught.value.hint
    fake_inspector(tmp_path / "bin", "sleep 5")
    with pytest.raises(InspectionError) as caught:
        inspect_images(stored, ["appliance"], lambda step: None, timeout=0.5)
    assert "did not finish within" in caught.value.message and "longer than" in caught.value.hint


def test_a_missing_virt_inspector_says_what_to_install(
    stored: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lab.commands.shutil.which", lambda program: None)
    with pytest.raises(HostError) as caught:
        inspect_images(stored, ["appliance"], lambda step: None)
    assert "virt-inspector is not installed" in caught.value.message
    assert "libguestfs-tools" in caught.value.hint and "make setup" in caught.value.hint


def test_an_image_not_stored(stored: Settings) -> None:
    with pytest.raises(NotFoundError, match="no image named 'nope'"):
        inspect_images(stored, ["nope"], lambda step: None)


# -- the command -----------------------------------------------------------------------------


@pytest.fixture
def app(stored: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("LAB_HOME", str(stored.home))
    monkeypatch.setenv("LAB_ACCEL", "tcg")
    fake_inspector(tmp_path / "bin", f"cat {FIXTURES}/windows.xml")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    get_settings.cache_clear()
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    image_cli.register(app)
    yield app
    get_settings.cache_clear()


def test_command_prints_a_summary_and_a_table(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["image", "inspect", "appliance"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("appliance /dev/sda2: Windows Server 2019 Standard 10.0, x86_64")
    assert lines[0].endswith("; 4 packages")
    assert any(line.startswith("note: Windows: only the programs") for line in lines)
    assert any("M.E.Doc 11.02.090" in line and "11.02.090" in line for line in lines)


def test_command_json_has_the_models_fields(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["image", "inspect", "appliance", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["images"] == ["appliance"]
    (system,) = data["systems"]
    assert system["os"]["product_name"] == "Windows Server 2019 Standard"
    assert system["packages"][0] == {
        "name": "7-Zip",
        "version": "19.00",
        "epoch": 0,
        "release": "",
        "arch": "",
        "display_name": "7-Zip 19.00 (x64)",
        "publisher": "Igor Pavlov",
    }
    assert data["software"]["entries"][0]["kind"] == "os"


def test_command_into_a_profile(app: typer.Typer, profile: Path) -> None:
    argv = ["image", "inspect", "appliance", "--into", str(profile), "--machine", "docs"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "wrote 5 software entries of docs" in result.stderr
    assert "kept 1 entries described by hand" in result.stderr
    software = load_profile(profile).machines[0].software
    assert software[1].product == "Windows Server 2019 Standard"
    result = CliRunner().invoke(app, ["image", "inspect", "appliance", "--machine", "docs"])
    assert isinstance(result.exception, InvalidError)
    assert "--into and --machine go together" in result.exception.message
