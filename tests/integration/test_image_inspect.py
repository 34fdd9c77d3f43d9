"""`lab image inspect` on real disks, with the real virt-inspector (its appliance under
TCG where KVM is not usable): the built debian-12 image, and a community's disk handed
over as a VMDK (a small Debian-like root with invented packages, made without mounting
anything), imported into a store of the test's own through the normal import path.

One virt-inspector run per disk (module fixtures); each prints how long it took.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from lab.commands import run
from lab.images import ImageStore
from lab.images.inspect import inspect_images
from lab.images.inspection import DiskInspection, software_of
from lab.images.recipe import load_recipe
from lab.profile.software import SoftwareKind
from lab.settings import Settings
from tests.appliances.disk import MiB, make_root
from tests.homes import IMAGE_HOME

pytestmark = pytest.mark.integration

RECIPE = Path(__file__).parents[2] / "images" / "debian-12.yaml"

# The community's own packages, as its dpkg status file lists them, and one removed
# package whose configuration files stayed (not installed: never listed).
STATUS = """\
Package: hromada-docflow
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.2-1
Maintainer: Vendor <support@vendor.example>
Description: document flow of the community

Package: hromada-registry
Status: install ok installed
Architecture: all
Version: 1:0.9~rc1-2
Description: the community's register of residents

Package: hromada-old-portal
Status: deinstall ok config-files
Architecture: all
Version: 1.0-1
Description: removed, its configuration left behind
"""


def progress(step: str) -> None:
    print(step)


@pytest.fixture(scope="module")
def debian() -> DiskInspection:
    """The built debian-12 image, from the host's store (read only)."""
    settings = Settings(home=IMAGE_HOME)
    if not (IMAGE_HOME / "images" / "names" / "debian-12.json").exists():
        pytest.fail(f"no debian-12 image in {IMAGE_HOME}: run `make image` first")
    inspection = inspect_images(settings, ["debian-12"], progress)
    print(f"debian-12 inspected in {inspection.seconds:.1f} s")
    return inspection


def community_disk(work: Path) -> Path:
    """A VMDK as a community hands one over: an MBR disk whose one partition holds a
    Debian-like root (what libguestfs looks for: /etc with os-release, debian_version and
    fstab, /bin, dpkg's status file), made with mkfs.ext4 -d, no mount, no loop device."""
    root = work / "root"
    for directory in ("etc", "bin", "usr/bin", "var/lib/dpkg"):
        (root / directory).mkdir(parents=True)
    (root / "etc" / "os-release").write_text(
        textwrap.dedent(
            """\
            PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
            NAME="Debian GNU/Linux"
            VERSION_ID="12"
            VERSION="12 (bookworm)"
            VERSION_CODENAME=bookworm
            ID=debian
            """
        )
    )
    (root / "etc" / "debian_version").write_text("12.7\n")
    (root / "etc" / "hostname").write_text("docflow-srv\n")
    (root / "etc" / "fstab").write_text("LABEL=root / ext4 defaults 0 1\n")
    (root / "var" / "lib" / "dpkg" / "status").write_text(STATUS)
    size = 64 * MiB
    make_root(root, work / "root.ext4", size)
    raw = work / "disk.raw"
    with raw.open("wb") as f:
        os.ftruncate(f.fileno(), size + 2 * MiB)
    run(
        ["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", raw],
        input=f"label: dos\nstart=2048, size={size // 512}, type=83\n".encode(),
    )
    run(["dd", f"if={work / 'root.ext4'}", f"of={raw}", "bs=1M", "seek=1", "conv=notrunc,sparse"])
    vmdk = work / "docflow-srv.vmdk"
    run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", raw, vmdk])
    return vmdk


@pytest.fixture(scope="module")
def community(tmp_path_factory: pytest.TempPathFactory) -> DiskInspection:
    """The community's disk imported into a store of the test's own, then inspected."""
    work = tmp_path_factory.mktemp("community")
    settings = Settings(home=work / "home")
    result = ImageStore(settings).import_file(community_disk(work), "docflow-srv", progress)
    assert [image.name for image in result.images] == ["docflow-srv"]
    inspection = inspect_images(settings, ["docflow-srv"], progress)
    print(f"docflow-srv inspected in {inspection.seconds:.1f} s")
    return inspection


def test_the_built_image_carries_its_recipes_packages(debian: DiskInspection) -> None:
    assert debian.notes == ()
    (system,) = debian.systems
    assert (system.os.type, system.os.distro, system.os.major) == ("linux", "debian", 12)
    assert system.os.arch == "x86_64" and system.os.package_format == "deb"
    installed = {p.name: p.full_version for p in system.packages}
    wanted = set(load_recipe(RECIPE).packages)
    assert wanted <= set(installed), wanted - set(installed)
    # The versions are those the build recorded in image.json ("name=version").
    image = ImageStore(Settings(home=IMAGE_HOME)).get("debian-12")
    recorded = dict(entry.split("=", 1) for entry in image.packages)
    for name in ("openssh-server", "cloud-init", "qemu-guest-agent"):
        assert installed[name] == recorded[name], name
    assert installed["openssh-server"].startswith("1:")  # its epoch is kept
    software = software_of(debian)
    assert software.notes == ()
    assert (software.entries[0].product, software.entries[0].kind) == (
        "Debian GNU/Linux",
        SoftwareKind.OS,
    )
    assert software.entries[0].version.startswith("12.")
    by_package = {e.package: e.version for e in software.entries if e.package}
    assert by_package["openssh-server"] == recorded["openssh-server"]


def test_a_communitys_disk_shows_its_own_packages(community: DiskInspection) -> None:
    assert community.images == ("docflow-srv",) and community.notes == ()
    (system,) = community.systems
    assert (system.os.distro, system.os.major, system.os.minor) == ("debian", 12, 7)
    assert system.os.hostname == "docflow-srv"
    assert {p.name: p.full_version for p in system.packages} == {
        "hromada-docflow": "3.2-1",
        "hromada-registry": "1:0.9~rc1-2",
    }
    entries = {(e.product, e.version, e.kind.value) for e in software_of(community).entries}
    assert entries == {
        ("Debian GNU/Linux", "12.7", "os"),
        ("hromada-docflow", "3.2-1", "package"),
        ("hromada-registry", "1:0.9~rc1-2", "package"),
    }
