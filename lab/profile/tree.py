"""YAML read into a tree of located values, and the `extends` merge over such trees.

PyYAML's `compose` gives nodes with start marks; we turn them into plain Python data
while remembering where every value and every key came from (file, line, column), so
that an error about `machines[1].nics[0].address` can name its line even after a merge
moved entries around. Duplicate keys, which PyYAML silently accepts, are caught here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lab.profile.checks import Loc, format_loc
from lab.profile.problems import Problem
from lab.profile.types import shown

# Lists merged entry by entry on `name` when a profile extends another.
NAMED_LISTS = ("networks", "machines", "accounts", "tests")
# A profile nests four levels deep (machines[0].nics[0].address); PyYAML composes nodes
# recursively and Python stops at ~1000 frames, so a file nested hundreds of levels deep
# would end in a RecursionError instead of a located problem. Checked before composing.
MAX_DEPTH = 64
_OPENS = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSES = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
# Values after expanding aliases: `&a [x, x, ...]` nine times over is a few hundred bytes
# that expand to a billion values. The largest sample profile has a few hundred.
MAX_VALUES = 20_000
# libyaml's parser (PyYAML's C binding) where it is installed: the same nodes, tokens and
# marks as PyYAML's own, several times faster (the catalogue reads every profile). A file
# it refuses is read again by PyYAML's own parser, whose messages (and leniency: libyaml
# refuses some escapes PyYAML reads) stay what a profile's author sees.
_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in a file."""

    file: str
    line: int
    column: int

    @classmethod
    def of(cls, file: str, mark: yaml.Mark) -> Mark:
        return cls(file, mark.line + 1, mark.column + 1)


@dataclass(slots=True)
class Located:
    """A value with its position. Mappings and lists hold Located children."""

    mark: Mark
    value: Any  # a scalar, dict[str, Located] or list[Located]
    keys: dict[str, Mark] = field(default_factory=dict)

    def plain(self) -> Any:
        """The plain Python data (dicts, lists, scalars) this tree stands for."""
        if isinstance(self.value, dict):
            return {key: child.plain() for key, child in self.value.items()}
        if isinstance(self.value, list):
            return [child.plain() for child in self.value]
        return self.value

    def node_at(self, loc: Loc) -> Located:
        """The node at `loc`, or the deepest existing node on the way to it."""
        node = self
        for part in loc:
            child = node._child(part)
            if child is None:
                break
            node = child
        return node

    def _child(self, part: str | int) -> Located | None:
        if isinstance(self.value, dict) and isinstance(part, str):
            return self.value.get(part)
        if isinstance(self.value, list) and isinstance(part, int) and 0 <= part < len(self.value):
            return self.value[part]  # type: ignore[no-any-return]
        return None

    def locate(self, loc: Loc, *, at_key: bool = False) -> Mark:
        """Where `loc` is: its value, or with `at_key` the key itself; for a key that is
        absent, the mapping that lacks it."""
        if at_key and loc and isinstance(loc[-1], str):
            parent = self.node_at(loc[:-1])
            return parent.keys.get(loc[-1], parent.mark)
        return self.node_at(loc).mark


def read(
    data: bytes, file: str, *, what: str = "profile", top_keys: str = ""
) -> tuple[Located | None, list[Problem]]:
    """Parse one file. Returns (tree, problems); tree is None if nothing usable was read.
    `what` and `top_keys` name the sort of file and its keys in the messages about a file
    that holds no mapping (a profile's by default; a course file's, lab.courses.loader)."""
    keys = top_keys or _TOP_KEYS
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        start_of_line = before[before.rfind(b"\n") + 1 :]
        column = len(start_of_line.decode("utf-8", errors="replace")) + 1
        message = f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        return None, [Problem(file, line, column, "", message)]
    node = _parse(text, file)
    if isinstance(node, Problem):
        return None, [node]
    if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
        return None, [Problem(file, 1, 1, "", _empty(what, keys))]
    if _too_many(node):
        message = f"the file expands to more than {MAX_VALUES} values (through aliases?)"
        return None, [Problem(file, 1, 1, "", message)]
    builder = _Builder(file)
    tree = builder.build(node, ())
    if not isinstance(tree.value, dict):
        held = "a list" if isinstance(tree.value, list) else f"the value {shown(tree.value)}"
        builder.problems.append(
            Problem(
                file,
                tree.mark.line,
                tree.mark.column,
                "",
                f"a {what} is a mapping of keys ({keys}), but the file holds {held}",
            )
        )
        return None, builder.problems
    return tree, builder.problems


def _parse(text: str, file: str) -> Node | Problem | None:
    """The file's nodes, or the problem that stops reading them."""
    if _FAST is not yaml.SafeLoader:
        try:
            node: Node | None = yaml.compose(text, Loader=_FAST)
        except yaml.YAMLError:
            pass  # read again below: PyYAML's message, or what libyaml alone refuses
        else:
            # libyaml refuses nesting beyond 1000 levels itself, so composing cannot run
            # out of stack; ours is checked on the nodes, once their count is known bounded.
            if node is None or _too_many(node):
                return node  # read() says what is wrong with it
            return _too_deep_nodes(node, file) or node
    deep = _too_deep(text, file)
    if deep is not None:
        return deep
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return _syntax_problem(exc, file)
    except yaml.YAMLError as exc:
        return Problem(file, 1, 1, "", f"not valid YAML: {exc}")


def _too_deep_nodes(root: Node, file: str) -> Problem | None:
    """A problem at the first collection nested more than MAX_DEPTH levels deep, aliases
    expanded (their count bounded first: `_too_many`), found without recursing."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, SequenceNode | MappingNode):
            continue
        if depth > MAX_DEPTH:
            mark = Mark.of(file, node.start_mark)
            message = f"values are nested more than {MAX_DEPTH} levels deep"
            return Problem(file, mark.line, mark.column, "", message)
        children = (
            node.value
            if isinstance(node, SequenceNode)
            else [item for pair in node.value for item in pair]
        )
        stack.extend((child, depth + 1) for child in reversed(children))
    return None


def _too_deep(text: str, file: str) -> Problem | None:
    """A problem at the first collection nested more than MAX_DEPTH levels deep; None
    otherwise, also for a syntax error, which composing then reports with its position."""
    try:
        return _nested(text, file, _FAST)
    except yaml.YAMLError:
        try:
            return _nested(text, file, yaml.SafeLoader)
        except yaml.YAMLError:
            return None  # composing reports it, with its position


def _nested(text: str, file: str, loader: Any) -> Problem | None:
    """The first collection nested too deep, found by `loader`'s scanner (which does not
    recurse); YAMLError for a syntax error."""
    depth = 0
    for token in yaml.scan(text, Loader=loader):
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                mark = Mark.of(file, token.start_mark)
                message = f"values are nested more than {MAX_DEPTH} levels deep"
                return Problem(file, mark.line, mark.column, "", message)
        elif isinstance(token, _CLOSES):
            depth -= 1
    return None


def _too_many(root: Node) -> bool:
    """Whether the document holds more than MAX_VALUES values once aliases are expanded
    (counted without recursing, and without expanding more than that)."""
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return True
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack += [key, value]
    return False


_TOP_KEYS = "extends, abstract, community, networks, machines, accounts, tests"


def _empty(what: str, keys: str) -> str:
    return f"the file is empty; a {what} is a mapping with the keys {keys}"


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = f"not valid YAML: {exc.problem or exc.context or 'syntax error'}"
    if exc.context and exc.problem and exc.context_mark:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return Problem(file, line, column, "", message)


class _Builder:
    """Turns composed nodes into Located trees, collecting key problems on the way."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def build(self, node: Node, loc: Loc) -> Located:
        mark = Mark.of(self.file, node.start_mark)
        if isinstance(node, SequenceNode):
            return Located(mark, [self.build(item, (*loc, i)) for i, item in enumerate(node.value)])
        if isinstance(node, MappingNode):
            return self._mapping(node, mark, loc)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2025-13-01
            self._problem(mark, loc, f"this value cannot be read: {exc}")
            value = None
        return Located(mark, value)

    def _mapping(self, node: MappingNode, mark: Mark, loc: Loc) -> Located:
        result = Located(mark, {})
        for key_node, value_node in node.value:
            key_mark = Mark.of(self.file, key_node.start_mark)
            if key_node.tag.endswith(":merge"):
                self._problem(
                    key_mark,
                    loc,
                    "YAML merge keys (<<) are not supported; use `extends` to share a base profile",
                )
                continue
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str) or not key_node.tag.endswith(":str"):
                self._problem(key_mark, loc, "keys must be plain words such as `name`")
                continue
            if key in result.value:
                first = result.keys[key]
                self._problem(
                    key_mark,
                    (*loc, key),
                    f"duplicate key {shown(key)} (first given at line {first.line})",
                )
            result.keys[key] = key_mark
            result.value[key] = self.build(value_node, (*loc, key))
        return result

    def _problem(self, mark: Mark, loc: Loc, message: str) -> None:
        self.problems.append(Problem(mark.file, mark.line, mark.column, format_loc(loc), message))


def merge(base: Located, child: Located) -> Located:
    """`child` over `base`: scalars replaced, `community` merged key by key, the named
    lists merged by `name` (same name replaces in place, new names are appended).
    `abstract` is not inherited: a profile extending a base is concrete unless it says so."""
    values = {k: v for k, v in base.value.items() if k not in ("abstract", "extends")}
    keys = {k: m for k, m in base.keys.items() if k in values}
    for key, value in child.value.items():
        old = values.get(key)
        if key == "community" and old is not None and _both(old, value, dict):
            value = Located(value.mark, {**old.value, **value.value}, {**old.keys, **value.keys})
        elif key in NAMED_LISTS and old is not None and _both(old, value, list):
            value = Located(value.mark, _merge_named(old.value, value.value))
        values[key] = value
        keys[key] = child.keys[key]
    return Located(child.mark, values, keys)


def _both(a: Located, b: Located, kind: type) -> bool:
    return isinstance(a.value, kind) and isinstance(b.value, kind)


def _name(entry: Located) -> Any:
    if isinstance(entry.value, dict) and "name" in entry.value:
        return entry.value["name"].value
    return None


def _merge_named(base: list[Located], child: list[Located]) -> list[Located]:
    merged = list(base)
    index = {_name(e): i for i, e in enumerate(merged) if isinstance(_name(e), str)}
    for entry in child:
        name = _name(entry)
        if isinstance(name, str) and name in index:
            merged[index[name]] = entry
        else:
            merged.append(entry)
    return merged
