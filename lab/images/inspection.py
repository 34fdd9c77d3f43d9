"""What is on a disk, as virt-inspector read it (pure): its operating systems and their
installed packages, and the software list a profile's machine carries made from them.

virt-inspector writes the XML, but every string in it comes from the disk: a community's
machine, which may say anything. Strings are data here: control characters go, each is cut
to a bound, so many packages at most are read, and none is ever used as a path or a
command. What could not be read, and why, is said in `notes`.
"""

from __future__ import annotations

import unicodedata
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from pydantic import BaseModel, ConfigDict, ValidationError

from lab.errors import InvalidError
from lab.profile.software import Software, SoftwareKind

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# Bounds on what a disk can make us hold: a Debian server has ~500 packages, a Windows
# workstation ~200 programs; a root per OS of a multi-boot disk.
MAX_PACKAGES = 20_000
MAX_ROOTS = 8
MAX_XML_BYTES = 64 << 20
_SHORT, _TEXT = 64, 200

# libguestfs's distro ids, as a catalogue names the product, and its maker.
_DISTROS: dict[str, tuple[str, str]] = {
    "debian": ("Debian GNU/Linux", "Debian Project"),
    "ubuntu": ("Ubuntu", "Canonical"),
    "linuxmint": ("Linux Mint", "Linux Mint"),
    "rhel": ("Red Hat Enterprise Linux", "Red Hat"),
    "centos": ("CentOS", "CentOS Project"),
    "fedora": ("Fedora", "Fedora Project"),
    "rocky": ("Rocky Linux", "Rocky Enterprise Software Foundation"),
    "almalinux": ("AlmaLinux", "AlmaLinux OS Foundation"),
    "oraclelinux": ("Oracle Linux", "Oracle"),
    "sles": ("SUSE Linux Enterprise Server", "SUSE"),
    "opensuse": ("openSUSE", "openSUSE Project"),
    "altlinux": ("ALT Linux", "BaseALT"),
    "alpinelinux": ("Alpine Linux", "Alpine Linux"),
    "archlinux": ("Arch Linux", "Arch Linux"),
    "freebsd": ("FreeBSD", "FreeBSD Project"),
    "windows": ("Windows", "Microsoft"),
}


class OsInfo(BaseModel):
    """One operating system found on the disk (a root, in libguestfs's words)."""

    model_config = _FROZEN

    root: str  # the device libguestfs found it on, e.g. /dev/sda1
    type: str  # linux, windows, freebsd, ... (libguestfs's "name")
    distro: str = ""  # debian, ubuntu, rhel, windows, ...
    product_name: str = ""  # Debian: its /etc/debian_version; Windows: "Windows Server 2019 ..."
    major: int = 0
    minor: int = 0
    arch: str = ""
    hostname: str = ""
    package_format: str = ""  # deb, rpm, ... ("" where there is none, e.g. Windows)


class InstalledPackage(BaseModel):
    """An installed package (Linux) or a program registered with Windows."""

    model_config = _FROZEN

    name: str
    version: str = ""
    epoch: int = 0
    release: str = ""
    arch: str = ""
    # Windows: what "Add or remove programs" shows, and who made it.
    display_name: str = ""
    publisher: str = ""

    @property
    def full_version(self) -> str:
        """The version as the package manager writes it: [epoch:]version[-release]."""
        version = self.version
        if version and self.epoch:
            version = f"{self.epoch}:{version}"
        if version and self.release:
            version = f"{version}-{self.release}"
        return version


class Inspection(BaseModel):
    """One operating system of a disk and what is installed in it."""

    model_config = _FROZEN

    os: OsInfo
    packages: tuple[InstalledPackage, ...] = ()
    notes: tuple[str, ...] = ()


class DiskInspection(BaseModel):
    """What virt-inspector found on an image's disk(s): one inspection per operating
    system (none for a data disk), and what could not be read."""

    model_config = _FROZEN

    images: tuple[str, ...]
    systems: tuple[Inspection, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0  # how long virt-inspector took


class SoftwareList(BaseModel):
    """A machine's software list made from an inspection, and what it had to leave out."""

    model_config = _FROZEN

    entries: tuple[Software, ...] = ()
    notes: tuple[str, ...] = ()


# -- reading virt-inspector's XML --------------------------------------------------------------


class _Cuts:
    """Counts the strings from the disk that were cut short, for one note."""

    def __init__(self) -> None:
        self.count = 0

    def text(self, parent: Element, tag: str, limit: int = _TEXT) -> str:
        element = parent.find(tag)
        if element is None or element.text is None:
            return ""
        value = clean(element.text)
        if len(value) > limit:
            self.count += 1
            value = value[:limit].rstrip()
        return value


def clean(value: str) -> str:
    """A string from the disk as plain one-line text: control and format characters
    (line breaks, escapes, bidirectional overrides) become spaces, runs of spaces one."""
    chars = (" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)
    return " ".join("".join(chars).split())


def _number(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else 0


def parse_inspector_xml(
    xml: bytes, images: tuple[str, ...], seconds: float = 0.0
) -> DiskInspection:
    """virt-inspector's XML as a DiskInspection; InvalidError when it is not its XML."""
    if len(xml) > MAX_XML_BYTES:
        raise InvalidError(
            f"virt-inspector's answer is larger than {MAX_XML_BYTES >> 20} MiB",
            hint="the disk lists an implausible number of packages: inspect it by hand"
            " (virt-inspector --no-applications)",
        )
    try:
        top = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise InvalidError(
            f"virt-inspector's answer is not XML we can read: {exc}",
            hint="run virt-inspector on the disk by hand to see what it says",
        ) from None
    if top.tag != "operatingsystems":
        raise InvalidError(
            f"virt-inspector's answer is not a list of operating systems (<{top.tag[:40]}>)",
            hint="run virt-inspector on the disk by hand to see what it says",
        )
    found = top.findall("operatingsystem")
    notes: list[str] = []
    if not found:
        notes.append(
            "no operating system was found on the disk, so nothing about its software could"
            " be read: it may hold only data, be encrypted (LUKS, BitLocker), or carry a"
            " system libguestfs does not recognise"
        )
    if len(found) > MAX_ROOTS:
        notes.append(f"{len(found)} operating systems were found; the first {MAX_ROOTS} are read")
    systems = tuple(_system(element) for element in found[:MAX_ROOTS])
    return DiskInspection(images=images, systems=systems, notes=tuple(notes), seconds=seconds)


def _system(element: Element) -> Inspection:
    cuts = _Cuts()
    os_info = OsInfo(
        root=cuts.text(element, "root", _SHORT) or "?",
        type=cuts.text(element, "name", _SHORT) or "unknown",
        distro=cuts.text(element, "distro", _SHORT),
        product_name=cuts.text(element, "product_name"),
        major=_number(cuts.text(element, "major_version", _SHORT)),
        minor=_number(cuts.text(element, "minor_version", _SHORT)),
        arch=cuts.text(element, "arch", _SHORT),
        hostname=cuts.text(element, "hostname", 255),
        package_format=cuts.text(element, "package_format", _SHORT),
    )
    notes: list[str] = []
    applications = element.find("applications")
    listed = [] if applications is None else applications.findall("application")
    packages = tuple(_package(app, cuts) for app in listed[:MAX_PACKAGES])
    packages = tuple(p for p in packages if p.name or p.display_name)
    if len(listed) > MAX_PACKAGES:
        notes.append(f"{len(listed)} packages are listed; the first {MAX_PACKAGES} are read")
    if len(packages) < min(len(listed), MAX_PACKAGES):
        notes.append(f"{min(len(listed), MAX_PACKAGES) - len(packages)} packages without a name")
    notes.extend(_gaps(os_info, bool(packages)))
    if cuts.count:
        notes.append(f"{cuts.count} values from the disk were longer than expected and cut short")
    return Inspection(os=os_info, packages=packages, notes=tuple(notes))


def _package(app: Element, cuts: _Cuts) -> InstalledPackage:
    return InstalledPackage(
        name=cuts.text(app, "name"),
        version=cuts.text(app, "version", _SHORT),
        epoch=_number(cuts.text(app, "epoch", _SHORT)),
        release=cuts.text(app, "release", _SHORT),
        arch=cuts.text(app, "arch", _SHORT),
        display_name=cuts.text(app, "display_name"),
        publisher=cuts.text(app, "publisher"),
    )


def _gaps(os_info: OsInfo, found: bool) -> list[str]:
    """What is missing from an OS's inspection, and why it may be."""
    notes = []
    if os_info.type == "windows":
        notes.append(
            "Windows: only the programs registered for 'Apps and features' in the SOFTWARE"
            " registry hive are listed; per-user installs, portable programs, Windows"
            " components and updates are not"
        )
        if not found:
            notes.append(
                "Windows: no programs were read from the registry: its SOFTWARE hive may be"
                " unreadable (damaged, or the volume is BitLocker-encrypted) or list none"
            )
    elif not found:
        notes.append(
            f"no installed packages were read (package format:"
            f" {os_info.package_format or 'unknown'}): the package database (dpkg's status"
            " file, the RPM database) is missing, empty or of a kind libguestfs cannot read"
        )
    if not os_info.major and not os_info.minor:
        notes.append("the system's version could not be read")
    return notes


# -- the profile's software list -----------------------------------------------------------


def software_of(inspection: DiskInspection) -> SoftwareList:
    """The software list a profile's machine carries, from what is on its disk: for each
    operating system one entry of kind `os`, then one of kind `package` per installed
    package (its version as the package manager writes it, e.g. 1:9.2p1-2+deb12u3). What
    a profile cannot express is dropped (a version) or left out (an entry), and noted.
    The vendor's permission is not known from a disk: it keeps the default."""
    entries: list[Software] = []
    notes: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for system in inspection.systems:
        where = f"{system.os.root}: " if len(inspection.systems) > 1 else ""
        candidates = [_os_entry(system.os)] + [_package_entry(p) for p in system.packages]
        lost_versions: list[str] = []
        dropped: list[str] = []
        for fields in candidates:
            entry = _fit(fields, lost_versions, dropped)
            if entry is None:
                continue
            key = (entry.product, entry.version, entry.kind.value)
            if key not in seen:  # e.g. one package of two architectures
                seen.add(key)
                entries.append(entry)
        if lost_versions:
            notes.append(
                f"{where}{len(lost_versions)} versions a profile cannot hold were left out"
                f" ({_some(lost_versions)})"
            )
        if dropped:
            notes.append(
                f"{where}{len(dropped)} entries a profile cannot hold were left out"
                f" ({_some(dropped)})"
            )
    return SoftwareList(entries=tuple(entries), notes=tuple(notes))


def os_product(info: OsInfo) -> tuple[str, str]:
    """The product an OS is, as a catalogue names it, and its maker ("" when unknown)."""
    product, vendor = _DISTROS.get(info.distro, ("", ""))
    if info.type == "windows" and info.product_name:
        product = info.product_name  # "Windows Server 2019 Standard" says more than Windows
    return product or info.product_name or info.distro or f"{info.type} system", vendor


def os_version(info: OsInfo) -> str:
    """major.minor ("12.7", "10.0"), or "" when libguestfs could not read it."""
    return f"{info.major}.{info.minor}" if info.major or info.minor else ""


def _os_entry(info: OsInfo) -> dict[str, object]:
    product, vendor = os_product(info)
    return {
        "product": product,
        "vendor": vendor,
        "version": os_version(info),
        "kind": SoftwareKind.OS,
    }


def _package_entry(package: InstalledPackage) -> dict[str, object]:
    if package.display_name or package.publisher:  # a Windows program
        return {
            "product": package.display_name or package.name,
            "vendor": package.publisher,
            "version": package.version,
            "kind": SoftwareKind.PACKAGE,
        }
    return {
        "product": package.name,
        "version": package.full_version,
        "kind": SoftwareKind.PACKAGE,
        "package": package.name,
    }


def _fit(
    fields: dict[str, object], lost_versions: list[str], dropped: list[str]
) -> Software | None:
    """The entry, or the entry without what a profile cannot hold (its version, its
    package name, a long product name cut), or None."""
    attempts = [fields]
    if fields.get("package"):
        attempts.append(fields | {"package": None})
    if fields.get("version"):
        attempts.append(fields | {"version": ""})
        if fields.get("package"):
            attempts.append(fields | {"version": "", "package": None})
    product = str(fields["product"])
    if len(product) > 80:
        attempts.append(fields | {"product": product[:80].rstrip(), "package": None})
    for attempt in attempts:
        try:
            entry = Software.model_validate(attempt)
        except ValidationError:
            continue
        if attempt is not attempts[0] and fields.get("version") and not entry.version:
            lost_versions.append(f"{product[:40]} {str(fields['version'])[:40]}")
        return entry
    dropped.append(product[:40])
    return None


def _some(values: list[str], shown: int = 3) -> str:
    more = len(values) - shown
    return ", ".join(repr(v) for v in values[:shown]) + (f" and {more} more" if more > 0 else "")
