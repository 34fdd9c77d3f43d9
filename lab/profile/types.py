"""Value types of a profile: sizes, names, IPv4 networks and addresses.

Each type validates with a message a Centre engineer can act on (pydantic's own
wording is rewritten where it is cryptic) and publishes a JSON Schema that editors
use for completion and early red squiggles.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from ipaddress import AddressValueError, IPv4Address, IPv4Network
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


def fail(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose message is shown as written (no template expansion)."""
    return PydanticCustomError(kind, message)


KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB
_UNITS = {"TiB": TIB, "GiB": GIB, "MiB": MIB, "KiB": KIB}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*(KiB|MiB|GiB|TiB)\s*$"
_SIZE_ADVICE = "write a number with an IEC unit, e.g. 512MiB (units: KiB, MiB, GiB, TiB)"


class Size(int):
    """A size in bytes, written in profiles as `512MiB`, `4GiB` (IEC units only).

    Bare numbers are refused: "512" could mean bytes or megabytes, and the two
    readings differ by a factor of a million. `str(size)` is the canonical form
    (the largest unit that divides the size exactly), which is how it serialises.
    """

    @classmethod
    def parse(cls, text: str) -> Size:
        """`Size.parse("1.5GiB") == 1536 * 2**20`; ValueError with advice otherwise."""
        match = _SIZE_RE.match(text)
        if match is None:
            raise ValueError(f"{shown(text)} is not a size: {_SIZE_ADVICE}")
        number, unit = match.groups()
        if not unit:
            raise ValueError(f"{shown(text)} has no unit: write {number}MiB or {number}GiB")
        if unit not in _UNITS:
            units = "units: KiB, MiB, GiB, TiB"
            if unit[:1] in "KkMmGgTt":
                fix = f"{number}{unit[:1].upper()}iB"
                raise ValueError(
                    f"{shown(text)}: {unit!r} is not an IEC unit; write {fix} ({units})"
                )
            raise ValueError(f"{shown(text)}: {unit!r} is not an IEC unit ({units})")
        try:
            exact = Decimal(number) * _UNITS[unit]
        except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
            raise ValueError(f"{shown(text)} is not a size: {_SIZE_ADVICE}") from exc
        if exact != exact.to_integral_value() or int(exact) % KIB:
            raise ValueError(f"{shown(text)} is not a whole number of KiB")
        return cls(int(exact))

    @property
    def kib(self) -> int:
        """Whole KiB (every Size is a whole number of KiB)."""
        return int(self) // KIB

    @property
    def mib(self) -> int:
        """Whole MiB, rounded down (machine memory and disks are whole MiB)."""
        return int(self) // MIB

    @property
    def gib(self) -> float:
        """GiB as a float (`Size.parse("1536MiB").gib == 1.5`)."""
        return int(self) / GIB

    def __str__(self) -> str:
        for unit, factor in _UNITS.items():
            if int(self) % factor == 0:
                return f"{int(self) // factor}{unit}"
        return f"{int(self)}B"  # pragma: no cover - parse() refuses sub-KiB sizes

    def __repr__(self) -> str:
        return f"Size({str(self)!r})"

    @classmethod
    def _validate(cls, value: Any) -> Size:
        if isinstance(value, Size):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise fail("size", f"expected a size such as 512MiB, got {describe(value)}")
        if isinstance(value, int | float):
            raise fail("size", f"{value} has no unit: write {value}MiB or {value}GiB")
        try:
            return cls.parse(value)
        except ValueError as exc:
            raise fail("size", str(exc)) from None

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate, serialization=core_schema.to_string_ser_schema()
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": _SIZE_PATTERN, "examples": ["512MiB", "4GiB"]}


def size_between(low: str, high: str) -> AfterValidator:
    """A validator keeping a Size within [low, high] and a whole number of MiB."""
    lo, hi = Size.parse(low), Size.parse(high)

    def check(size: Size) -> Size:
        if size % MIB:
            raise fail("size", f"{size} is not a whole number of MiB")
        if not lo <= size <= hi:
            raise fail("size", f"{size} is out of range: allowed {lo} to {hi}")
        return size

    return AfterValidator(check)


def shown(value: object, limit: int = 60) -> str:
    """`repr(value)`, cut short: an error message quotes a value, not 20,000 characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def describe(value: object) -> str:
    """How a YAML value reads to a person: `a list`, `nothing`, `the number 3`."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a yes/no value)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {shown(value)}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping (key: value lines)"
    return f"{value!s} ({type(value).__name__})"


# -- names -------------------------------------------------------------------------------

_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ROLE_RE = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")
_POSIX_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def _name_type(regex: re.Pattern[str], max_len: int, rule: str) -> Any:
    def check(value: str) -> str:
        if not 1 <= len(value) <= max_len or not regex.fullmatch(value):
            raise fail(
                "name", f"{shown(value)} is not a valid name: {rule.format(max_len=max_len)}"
            )
        return value

    return Annotated[
        str,
        AfterValidator(check),
        Field(json_schema_extra={"pattern": regex.pattern, "maxLength": max_len}),
    ]


_LABEL_RULE = "use 1 to {max_len} lowercase letters, digits and hyphens (a-z 0-9 -), "
_LABEL_RULE += "not starting or ending with a hyphen"
CommunityName = _name_type(_LABEL_RE, 20, _LABEL_RULE)
NetworkName = _name_type(_LABEL_RE, 15, _LABEL_RULE)
MachineName = _name_type(_LABEL_RE, 20, _LABEL_RULE)
CheckName = _name_type(_LABEL_RE, 63, _LABEL_RULE)
RoleName = _name_type(_ROLE_RE, 63, "use 1 to {max_len} lowercase letters, digits, '-' and '_'")
PosixName = _name_type(
    _POSIX_RE,
    32,
    "use up to {max_len} lowercase letters, digits, '-' and '_', starting with a letter or '_'",
)
# The image store's own rule (lab/images/recipe.py), checked here too so that `lab validate`
# locates a bad image name instead of `lab up` refusing it later.
ImageName = _name_type(
    re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$"),
    63,
    "use 1 to {max_len} lowercase letters, digits, '.', '_' and '-', "
    "starting with a letter or digit",
)


# -- IPv4 --------------------------------------------------------------------------------

MIN_PREFIX, MAX_PREFIX = 16, 29


def _parse_network(value: Any) -> IPv4Network:
    if isinstance(value, IPv4Network):
        net = value
    elif not isinstance(value, str):
        raise fail("cidr", f"expected an IPv4 network such as 10.20.0.0/24, got {describe(value)}")
    elif "/" not in value:
        raise fail("cidr", f"{shown(value)} has no prefix length: write it like 10.20.0.0/24")
    else:
        try:
            net = IPv4Network(value, strict=True)
        except ValueError:
            try:
                loose = IPv4Network(value, strict=False)
            except ValueError:
                raise fail(
                    "cidr", f"{shown(value)} is not an IPv4 network such as 10.20.0.0/24"
                ) from None
            raise fail(
                "cidr", f"{shown(value)} has host bits set: the network is {loose}"
            ) from None
    if not MIN_PREFIX <= net.prefixlen <= MAX_PREFIX:
        raise fail(
            "cidr",
            f"a lab network needs a prefix from /{MIN_PREFIX} to /{MAX_PREFIX}, "
            f"got /{net.prefixlen}",
        )
    return net


def _parse_address(value: Any) -> IPv4Address:
    if isinstance(value, IPv4Address):
        return value
    if not isinstance(value, str):
        raise fail("address", f"expected an IPv4 address such as 10.20.0.10, got {describe(value)}")
    try:
        return IPv4Address(value)
    except AddressValueError:
        raise fail("address", f"{shown(value)} is not an IPv4 address") from None


def _parse_mac(value: Any) -> str:
    if not isinstance(value, str):
        raise fail(
            "mac", f"expected a MAC address such as 52:54:00:12:34:56, got {describe(value)}"
        )
    mac = value.strip().lower().replace("-", ":")
    if not _MAC_RE.fullmatch(mac):
        raise fail(
            "mac", f"{shown(value)} is not a MAC address: write six hex pairs, 52:54:00:12:34:56"
        )
    if int(mac[:2], 16) & 1:
        raise fail("mac", f"{mac} is a multicast address; a NIC needs a unicast one")
    if mac == "00:00:00:00:00:00":
        raise fail("mac", "00:00:00:00:00:00 is not a NIC's address")
    return mac


_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
Mac = Annotated[str, BeforeValidator(_parse_mac)]
Cidr = Annotated[IPv4Network, BeforeValidator(_parse_network)]
Address = Annotated[IPv4Address, BeforeValidator(_parse_address)]


# Free text travels to Ansible as variables, and Ansible evaluates any Jinja it finds in a
# variable's value, on the Centre's host, as the orchestrator: `{{ lookup('pipe', 'id') }}`
# in a title would run `id` there. No community name or title needs these pairs.
_TEMPLATE_MARKS = ("{{", "{%", "{#")


def _plain_text(value: str) -> str:
    found = [mark for mark in _TEMPLATE_MARKS if mark in value]
    if found:
        raise fail(
            "text",
            f"{found[0]!r} cannot appear in text here: Ansible would run it as a template",
        )
    if "\x00" in value:
        raise fail("text", "text cannot contain a NUL character")
    return value


PlainText = Annotated[str, AfterValidator(_plain_text)]


def _full_name(value: str) -> str:
    # It becomes the GECOS field of /etc/passwd, where ':' separates fields.
    # The seed's own rule (lab/labs/seed.py), so `lab validate` finds what `lab up` would refuse.
    if ":" in value or not value.isprintable():
        raise fail(
            "full_name",
            "a full name cannot contain ':', line breaks, control or invisible characters",
        )
    if len(value) > 200:
        raise fail("full_name", "a full name is at most 200 characters")
    return _plain_text(value)


FullName = Annotated[str, AfterValidator(_full_name)]
