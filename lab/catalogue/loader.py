"""Reading the profiles directory for the catalogue, read again only where a file changed.

What each profile file holds for the catalogue (its software lists, or why it does not
load) is kept under the file's (name, mtime_ns, size) and those of the directory's bases
(`_*.yaml`, which `extends` pulls in): a request finds the directory unchanged at the
cost of one `stat` per file. Kept twice: in this process's memory (the API serves the
catalogue again and again), and in a JSON file under LAB_HOME/cache, so that the next
`lab` command reads only what changed since (a file it cannot write is no error: the
catalogue is then read in full next time).

A profile that extends a file outside the directory's `_*.yaml` bases is read again only
when it changes itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from lab.catalogue.entries import CatalogueEntry, InvalidProfile, ProfileSoftware, flatten
from lab.errors import LabError
from lab.profile import load_profile
from lab.profile.problems import first_problem
from lab.settings import Settings

CACHE_VERSION = 1
_T = TypeVar("_T")
Stamp = tuple[str, int, int]  # file name, mtime_ns, size


class Catalogue:
    """The directory's profiles as read at one moment, and what was computed from them
    (each view once: `memo`). The same object is handed out while no file changes."""

    def __init__(
        self, profiles: tuple[ProfileSoftware, ...], invalid: tuple[InvalidProfile, ...]
    ) -> None:
        self.profiles = profiles
        self.invalid = invalid
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def memo(self, key: tuple[Any, ...], make: Callable[[], _T]) -> _T:
        """`make()`, computed once per `key` for this catalogue."""
        with self._lock:
            if key in self._memo:
                found: _T = self._memo[key]
                return found
        made = make()
        with self._lock:
            if len(self._memo) > 256:  # views by date and options: a bound, not a concern
                self._memo.clear()
            self._memo[key] = made
        return made

    def entries(self, today: date) -> tuple[CatalogueEntry, ...]:
        return self.memo(("entries", today), lambda: flatten(self.profiles, today))


@dataclass(frozen=True)
class _Record:
    """What one file holds for the catalogue: its software lists, or why it does not
    load, or nothing (an abstract base)."""

    stamp: tuple[Stamp, tuple[Stamp, ...]]
    profile: ProfileSoftware | None = None
    error: str | None = None


@dataclass
class _Directory:
    records: dict[str, _Record] = field(default_factory=dict)
    stamp: tuple[Any, ...] = ()
    catalogue: Catalogue | None = None
    from_disk: bool = False


_directories: dict[Path, _Directory] = {}
_lock = threading.Lock()


def load_catalogue(settings: Settings) -> Catalogue:
    """The catalogue of `settings.profiles_dir`: every profile's software (abstract bases
    left out) and the profiles that do not load, each with its first problem."""
    folder = settings.profiles_dir
    with _lock:
        directory = _directories.setdefault(folder.resolve(), _Directory())
        profiles, bases = _scan(folder)
        stamp = (tuple(profiles), bases)
        if directory.catalogue is not None and directory.stamp == stamp:
            return directory.catalogue
        if not directory.from_disk:
            directory.records.update(_read_cache(settings))
            directory.from_disk = True
        changed = False
        records: dict[str, _Record] = {}
        for own in profiles:
            key = (own, bases)
            record = directory.records.get(own[0])
            if record is None or record.stamp != key:
                record = _read(settings, folder / own[0], key)
                changed = True
            records[own[0]] = record
        changed = changed or records.keys() != directory.records.keys()
        directory.records = records
        directory.stamp = stamp
        directory.catalogue = _assemble(records)
        if changed:
            _write_cache(settings, records)
        return directory.catalogue


def _scan(folder: Path) -> tuple[list[Stamp], tuple[Stamp, ...]]:
    """The stamps of the directory's profiles (`[!_]*.yaml`) and of its bases (`_*.yaml`)."""
    profiles: list[Stamp] = []
    bases: list[Stamp] = []
    try:
        found = list(os.scandir(folder))
    except OSError:
        return [], ()
    for entry in found:
        name = entry.name
        if not name.endswith(".yaml") or name.startswith("."):
            continue
        try:
            info = entry.stat()
        except OSError:
            info = None
        stamp = (name, info.st_mtime_ns, info.st_size) if info else (name, -1, -1)
        (bases if name.startswith("_") else profiles).append(stamp)
    return sorted(profiles), tuple(sorted(bases))


def _read(settings: Settings, path: Path, stamp: tuple[Stamp, tuple[Stamp, ...]]) -> _Record:
    try:
        profile = load_profile(path)
    except LabError as exc:  # listed, as invalid
        return _Record(stamp, error=first_problem(settings.profiles_dir, exc))
    if profile.abstract:
        return _Record(stamp)
    return _Record(stamp, profile=ProfileSoftware.of(path.stem, profile))


def _assemble(records: dict[str, _Record]) -> Catalogue:
    profiles = tuple(r.profile for _, r in sorted(records.items()) if r.profile is not None)
    invalid = tuple(
        InvalidProfile(name=name.removesuffix(".yaml"), error=r.error)
        for name, r in sorted(records.items())
        if r.error is not None
    )
    return Catalogue(profiles, invalid)


def cache_file(settings: Settings) -> Path:
    """Where the records of `settings.profiles_dir` are kept between commands."""
    folder = str(settings.profiles_dir.resolve()).encode()
    return settings.home / "cache" / f"catalogue-{hashlib.sha256(folder).hexdigest()[:16]}.json"


def _read_cache(settings: Settings) -> dict[str, _Record]:
    """The records a previous process kept; {} if there are none or they cannot be read
    (each record is validated again: a damaged one is read from its profile anew)."""
    try:
        data = json.loads(cache_file(settings).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    records: dict[str, _Record] = {}
    for name, item in (data.get("files") or {}).items():
        try:
            own, bases = item["stamp"]
            stamp = (_stamp(own), tuple(_stamp(b) for b in bases))
            profile = item.get("profile")
            error = item.get("error")
            records[name] = _Record(
                stamp,
                profile=None if profile is None else ProfileSoftware.model_validate(profile),
                error=None if error is None else str(error),
            )
        except (KeyError, TypeError, ValueError, ValidationError):
            continue
    return records


def _stamp(value: Any) -> Stamp:
    name, mtime, size = value
    if not (isinstance(name, str) and isinstance(mtime, int) and isinstance(size, int)):
        raise ValueError("not a stamp")
    return (name, mtime, size)


def _write_cache(settings: Settings, records: dict[str, _Record]) -> None:
    """Keep the records for the next process, atomically; nothing if that is not possible."""
    files: dict[str, Any] = {}
    for name, record in records.items():
        item: dict[str, Any] = {"stamp": record.stamp}
        if record.profile is not None:
            item["profile"] = record.profile.model_dump(mode="json", exclude_defaults=True)
        if record.error is not None:
            item["error"] = record.error
        files[name] = item
    text = json.dumps({"version": CACHE_VERSION, "files": files}, ensure_ascii=False)
    path = cache_file(settings)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalogue-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def forget() -> None:
    """Drop what this process keeps in memory (tests)."""
    with _lock:
        _directories.clear()
