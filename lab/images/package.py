"""What a community hands over, opened into disk files: a bare disk, an OVF descriptor
with its disks beside it, or an OVA (a tar of descriptor, disks and maybe a manifest)
unpacked into a work directory.

An OVA comes from outside: only plain files with plain names that the descriptor names
are unpacked, as bytes (nothing of the archive's owners, modes or links), each checked
against the manifest when there is one.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path

from lab.base import Frozen
from lab.errors import InvalidError, NotFoundError, quote
from lab.images import ovf, qemu
from lab.images.build import Progress
from lab.images.imports import percent_steps

_MAX_MEMBERS = 64
_MAX_SMALL = 4 * 1024 * 1024  # a descriptor, manifest or certificate
_MANIFEST_LINE = re.compile(r"^(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$")
_HINT = "export the machine again (File > Export Appliance) and copy the .ova whole"


class Machine(Frozen):
    """The disks to import, in order, and what the descriptor said (None: a bare disk)."""

    disks: tuple[Path, ...]
    hints: ovf.HardwareHints | None = None
    refs: tuple[str, ...]  # what each disk is called in the image's Source


def drop_file(root: Path, name: str) -> Path:
    """The file `name` inside the drop directory `root`, symlinks resolved; refused when it
    lies outside (`..`, an absolute path, a link pointing out) or is no file."""
    hint = "copy the file into the import directory (LAB_IMPORT_DIR) and name it from there"
    if not name or "\0" in name:
        raise InvalidError("no file named to import", hint=hint)
    try:
        base = root.resolve()
        target = (base / name).resolve()
        inside = target.is_relative_to(base) and target != base
        exists = inside and target.is_file()
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop
        words = getattr(exc, "strerror", None) or str(exc)
        raise InvalidError(f"cannot import {quote(name)}: {words}", hint) from exc
    if not inside:
        raise InvalidError(f"{quote(name)} is outside the import directory", hint=hint)
    if not exists:
        raise NotFoundError(f"no file {quote(name)} in the import directory", hint=hint)
    return target


def open_machine(path: Path, work: Path, progress: Progress) -> Machine:
    suffix = path.suffix.lower()
    if suffix == ".ova":
        return _from_ova(path, work / "ova", progress)
    if suffix == ".ovf":
        return _from_ovf(path, progress)
    return Machine(disks=(path,), refs=(path.name,))


def _from_ovf(path: Path, progress: Progress) -> Machine:
    base = path.resolve().parent
    if path.stat().st_size > _MAX_SMALL:
        raise InvalidError(f"{path} is too large for an OVF descriptor", hint=_HINT)
    descriptor = ovf.parse(path.read_bytes(), path.name)
    files: dict[str, Path] = {path.name: path}
    for ref in descriptor.files:
        target = (base / _plain(ref.href, path)).resolve()
        if not target.is_relative_to(base):
            raise InvalidError(
                f"{path} refers to {ref.href!r}, outside its directory",
                hint="keep the disks beside the .ovf file",
            )
        if not target.is_file():
            raise NotFoundError(
                f"{path} refers to {ref.href}, which is not beside it",
                hint="copy the disk files the .ovf names into its directory",
            )
        files[ref.href] = target
    manifest = path.with_suffix(".mf")
    if manifest.is_file():
        _verify(manifest, files, progress)
    return _machine(descriptor, files, path.name)


def _from_ova(path: Path, dest: Path, progress: Progress) -> Machine:
    with _open_tar(path) as tar:
        members = _members(tar, path)
        descriptors = [m for m in members.values() if m.name.lower().endswith(".ovf")]
        if len(descriptors) != 1:
            raise InvalidError(
                f"{path} holds {len(descriptors)} .ovf descriptors; an OVA has exactly one",
                hint=_HINT,
            )
        ovf_member = descriptors[0]
        descriptor = ovf.parse(_read_small(tar, ovf_member, path), ovf_member.name)
        stem = ovf_member.name[: -len(".ovf")]
        wanted = {ovf_member.name, f"{stem}.mf", f"{stem}.cert"}
        for ref in descriptor.files:
            wanted.add(_plain(ref.href, path))
            member = members.get(ref.href)
            if member is None:
                raise InvalidError(f"{path} lacks {ref.href}, which its descriptor names", _HINT)
            if ref.size is not None and ref.size != member.size:
                raise InvalidError(
                    f"{path}: {ref.href} has {member.size} bytes, its descriptor says {ref.size}",
                    hint=_HINT,
                )
        extra = sorted(set(members) - wanted)
        if extra:
            raise InvalidError(
                f"{path} holds files its descriptor does not name: {', '.join(extra[:5])}",
                hint="an OVA holds only its .ovf, .mf, .cert and the files the .ovf references",
            )
        _check_space(members.values(), dest.parent, path)
        dest.mkdir()
        files: dict[str, Path] = {}
        for member in members.values():
            if member.name.endswith((".mf", ".cert")) and member.size > _MAX_SMALL:
                raise InvalidError(f"{path}: {member.name} is too large", hint=_HINT)
            progress(f"unpacking {member.name} ({member.size / 1024**2:.1f} MiB)")
            try:
                _unpack(tar, member, dest / member.name)
            except (tarfile.TarError, OSError) as exc:
                raise InvalidError(
                    f"{path} is damaged: {member.name} could not be unpacked ({exc})", _HINT
                ) from exc
            if not member.name.endswith(".cert"):  # it signs the manifest, unlisted there
                files[member.name] = dest / member.name
    manifest = dest / f"{stem}.mf"
    if manifest.is_file():
        del files[manifest.name]
        _verify(manifest, files, progress)
    return _machine(descriptor, files, path.name)


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")  # the caller closes it
    except (tarfile.TarError, OSError) as exc:
        raise InvalidError(f"{path} is not an OVA (a tar archive): {exc}", hint=_HINT) from exc


def _members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    """The archive's members by name, each a plain file with a plain name, whole."""
    size = path.stat().st_size
    members: dict[str, tarfile.TarInfo] = {}
    try:
        for member in tar:
            if len(members) >= _MAX_MEMBERS:
                raise InvalidError(f"{path} holds more than {_MAX_MEMBERS} files", _HINT)
            _plain(member.name, path)
            if not member.isreg():
                raise InvalidError(
                    f"{path}: member {member.name!r} is not a plain file (a link, directory"
                    " or device)",
                    hint=_HINT,
                )
            if member.name in members:
                raise InvalidError(f"{path} holds {member.name!r} twice", _HINT)
            if member.offset_data + member.size > size:
                raise InvalidError(
                    f"{path} is truncated: {member.name} ends past the end of the file",
                    hint=_HINT,
                )
            members[member.name] = member
    except tarfile.TarError as exc:
        raise InvalidError(f"{path} is a damaged tar archive: {exc}", hint=_HINT) from exc
    if not members:
        raise InvalidError(f"{path} is an empty archive", hint=_HINT)
    return members


def _plain(name: str, package: Path) -> str:
    """A file name of the package: no directories, no way out, no URL."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise InvalidError(
            f"{package} names a file {name!r} outside its own directory",
            hint="an appliance's files lie side by side; refusing paths, links and URLs",
        )
    return name


def _unpack(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    """Copy one member (a plain file with a plain name: `_members` checked) out of the
    archive as a new file. Its bytes only: no owner, mode, time or link of the archive's
    is taken, which is what tarfile's "data" filter would do (Debian 12's Python has none)."""
    source = tar.extractfile(member)
    if source is None:
        raise tarfile.ExtractError(f"{member.name} is not a file")
    with source, target.open("xb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
        if out.tell() != member.size:
            raise tarfile.ExtractError(f"{member.name} ended after {out.tell()} bytes")


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> bytes:
    if member.size > _MAX_SMALL:
        raise InvalidError(f"{path}: {member.name} is too large for a descriptor", _HINT)
    f = tar.extractfile(member)
    if f is None:
        raise InvalidError(f"{path}: {member.name} cannot be read", _HINT)
    with f:
        return f.read()


def _check_space(members: Iterable[tarfile.TarInfo], where: Path, path: Path) -> None:
    total = sum(m.size for m in members)
    free = shutil.disk_usage(where).free
    # Unpacked, then converted: room for about twice the archive.
    if 2 * total > free:
        raise InvalidError(
            f"{path} unpacks to {total // 1024**2} MiB; the image store has"
            f" {free // 1024**2} MiB free and needs about twice that",
            hint="free space under the image store (LAB_HOME) first",
        )


def _verify(manifest: Path, files: dict[str, Path], progress: Progress) -> None:
    """Every file of the package is listed in the manifest, with a matching digest."""
    listed: dict[str, tuple[str, str]] = {}
    for line in manifest.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        match = _MANIFEST_LINE.fullmatch(line.strip())
        if match is None:
            raise InvalidError(f"{manifest.name} has a line we cannot read: {line[:80]!r}", _HINT)
        algorithm, name, digest = match.groups()
        listed[name.strip()] = (algorithm.lower(), digest.lower())
    for name, file in files.items():
        if name not in listed:
            raise InvalidError(f"{manifest.name} does not list {name}", hint=_HINT)
        algorithm, expected = listed.pop(name)
        report = percent_steps(progress, f"verifying {name}")
        actual = qemu.file_digest(file, algorithm, report)
        if actual != expected:
            raise InvalidError(
                f"{name} does not match {manifest.name}: {algorithm.upper()} is"
                f" {actual[:16]}..., the manifest says {expected[:16]}...",
                hint="the file was changed or damaged in transit: " + _HINT,
            )
    if listed:
        raise InvalidError(
            f"{manifest.name} lists files the package lacks: {', '.join(sorted(listed)[:5])}",
            hint=_HINT,
        )


def _machine(descriptor: ovf.Descriptor, files: dict[str, Path], package: str) -> Machine:
    hints = descriptor.hints
    disks = tuple(files[d.file] for d in hints.disks)
    return Machine(disks=disks, hints=hints, refs=tuple(f"{package}/{d.file}" for d in hints.disks))
