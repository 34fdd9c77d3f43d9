"""Writing into a profile file what an inspection found: a machine's `software:` list,
with the file's comments, key order, quoting and indentation kept (ruamel.yaml's round
trip; the file's indentation is guessed from it).

Entries of kind `os` and `package` are what an inspection makes: they are replaced. Every
other entry (a product described by hand) is kept, in its place; where it is a package
found (its `package`, or its product's name), it takes the version found instead of a
second entry. The new file is written
beside the old one, loaded as a profile (`load_profile`, its `extends` included), and only
then renamed over it: a result that is not a valid profile leaves the file as it was.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from lab.errors import InvalidError, NotFoundError, quote
from lab.profile.loader import Unreadable, load_profile, read_profile_file
from lab.profile.problems import ProfileError
from lab.profile.software import Software, SoftwareKind

INSPECTED_KINDS = frozenset({SoftwareKind.OS.value, SoftwareKind.PACKAGE.value})


def write_software(path: Path, machine: str, entries: Sequence[Software]) -> tuple[int, int]:
    """Replace machine `machine`'s inspected software entries (kinds `os`, `package`) in
    the profile file `path` by `entries`, keeping the rest of the file. Returns (entries
    kept, entries written); a kept entry that is one of `entries` takes its version."""
    text = _read(path)
    yaml, document = _load(path, text)
    target = _machine(path, document, machine)
    old = target.get("software")
    kept = [e for e in old if not _inspected(e)] if isinstance(old, list) else []
    fresh = [_entry(e) for e in entries if not _described(kept, e)]
    software = CommentedSeq(kept + fresh)
    if isinstance(old, CommentedSeq):
        software.ca.comment = old.ca.comment  # a comment above the list stays
    software.fa.set_block_style()
    target.fa.set_block_style()  # a flow machine `{name: ..}` cannot hold a block list
    after = _take_trailing(target)
    target["software"] = software
    _put_trailing(target, after)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    _replace(path, buffer.getvalue())
    return len(kept), len(fresh)


def _read(path: Path) -> str:
    try:
        data = read_profile_file(path)
    except FileNotFoundError:
        raise NotFoundError(
            f"profile {quote(str(path), 200)} does not exist", hint="check the path"
        ) from None
    except Unreadable as exc:
        raise InvalidError(f"profile {quote(str(path), 200)} {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidError(
            f"profile {quote(str(path), 200)} is not UTF-8 text", hint="save it as UTF-8"
        ) from None


def _load(path: Path, text: str) -> tuple[YAML, Any]:
    try:
        _, indent, offset = load_yaml_guess_indent(text)
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096  # never fold a long line the file has
        yaml.brace_single_entry_mapping_in_flow_sequence = True  # [{network: x}] stays
        yaml.indent(mapping=2, sequence=indent or 2, offset=offset or 0)
        document = yaml.load(text)
    except YAMLError as exc:
        raise InvalidError(
            f"profile {quote(str(path), 200)} is not valid YAML: {exc}",
            hint=f"check it first: lab validate {path}",
        ) from None
    return yaml, document


def _machine(path: Path, document: Any, name: str) -> CommentedMap:
    machines = document.get("machines") if isinstance(document, dict) else None
    for machine in machines if isinstance(machines, list) else ():
        if isinstance(machine, CommentedMap) and machine.get("name") == name:
            return machine
    base = document.get("extends") if isinstance(document, dict) else None
    where = f" (it may come from its base {quote(str(base), 100)}: write into that file)"
    raise NotFoundError(
        f"profile {quote(str(path), 200)} has no machine {quote(name)}" + (where if base else ""),
        hint="name a machine listed under `machines:` of that file (lab profile show FILE)",
    )


def _last(node: Any) -> tuple[Any, Any, int] | None:
    """Where ruamel keeps what follows the machine's last line (the blank lines and
    comments before the next key): the innermost last block item, its key, its slot."""
    while True:
        if isinstance(node, CommentedMap) and len(node):
            key, slot = list(node)[-1], 2
        elif isinstance(node, CommentedSeq) and len(node):
            key, slot = len(node) - 1, 0
        else:
            return None
        value = node[key]
        block = isinstance(value, CommentedMap | CommentedSeq) and not value.fa.flow_style()
        if block and len(value):
            node = value
            continue
        return node, key, slot


def _take_trailing(machine: CommentedMap) -> str:
    """Take off the lines that follow the machine's last line (not a comment at its end),
    so they can follow its new last line."""
    where = _last(machine)
    if where is None:
        return ""
    node, key, slot = where
    if node.ca.end:  # a block list ending in a flow item keeps them as its end
        after = "".join(t.value for t in node.ca.end if isinstance(t, CommentToken))
        node.ca.end = []
        return after
    entry = node.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if not isinstance(token, CommentToken) or "\n" not in token.value:
        return ""
    end = token.value.index("\n") + 1
    kept, after = token.value[:end], token.value[end:]
    if kept == "\n":
        entry[slot] = None
    else:
        token.value = kept
    return str(after)


def _put_trailing(machine: CommentedMap, after: str) -> None:
    where = _last(machine)
    if not after or where is None:
        return
    node, key, slot = where
    entry = node.ca.items.setdefault(key, [None] * (4 if slot == 2 else 2))
    entry[slot] = CommentToken("\n" + after, CommentMark(0), None)


def _described(kept: list[Any], found: Software) -> bool:
    """Whether a product described by hand is the package `found` (by its `package`, or
    by its name): then that entry takes the version found, and keeps the rest."""
    names = {found.product.casefold()} | ({found.package} if found.package else set())
    for entry in kept:
        if not isinstance(entry, dict):
            continue
        package, product = entry.get("package"), entry.get("product")
        if package in names or (isinstance(product, str) and product.casefold() in names):
            if found.version:
                entry["version"] = DoubleQuotedScalarString(found.version)
            return True
    return False


def _inspected(entry: object) -> bool:
    return isinstance(entry, dict) and str(entry.get("kind", "")) in INSPECTED_KINDS


def _entry(software: Software) -> CommentedMap:
    """One entry on one line, `{product: "openssh-server", version: "1:9.2p1-2", ...}`:
    what a profile loader reads back as text (a version 3.10 unquoted is a number)."""
    data = software.model_dump(mode="json", exclude_defaults=True)
    entry = CommentedMap(
        (
            key,
            DoubleQuotedScalarString(value) if key != "kind" and isinstance(value, str) else value,
        )
        for key, value in data.items()
    )
    entry.fa.set_flow_style()
    return entry


def _replace(path: Path, text: str) -> None:
    """Write `text` beside `path`, check it is a valid profile, rename it over `path`."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            load_profile(tmp)
        except ProfileError as exc:
            shown = [replace(p, file=str(path)) if p.file == str(tmp) else p for p in exc.problems]
            raise ProfileError(
                shown,
                str(path),
                hint=f"{path} was left as it was: with this software list it would not be a"
                " valid profile; fix what is above first (lab validate FILE)",
            ) from None
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
