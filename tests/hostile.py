"""Hypothesis strategies of hostile input, shared by the property tests.

Every string field a user controls is fed from `hostile_text()`: metacharacters of XML,
shells, YAML, Jinja and ssh_config, `../`, NUL and other control characters, line
breaks, very long strings, and non-ASCII text (Ukrainian first: it must be accepted
wherever the model allows free text). `Trials` counts the examples a test really ran,
for the reliability record (tests/reliability.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Pieces an attacker would reach for; combined with arbitrary text below.
NASTY = (
    "<",
    ">",
    "&",
    '"',
    "'",
    "]]>",
    "</name><evil/>",
    "&amp;",
    "&#10;",
    "<!--",
    "<?xml ?>",
    ";",
    "|",
    "&&",
    "$(id)",
    "`id`",
    "$HOME",
    "\\",
    "*",
    "~",
    "-rf",
    "--help",
    " -o ProxyCommand=id",
    "../",
    "../../etc/passwd",
    "/",
    ".",
    "\x00",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "\u2028",
    "\ufeff",
    "\ud800",
    "{{ lookup('pipe', 'id') }}",
    "{% raw %}",
    "{#",
    "key: value",
    "- item",
    "#cloud-config",
    "!!python/object:os.system",
    "&anchor",
    "*alias",
    "%",
    "@",
    "Host *",
    "Match all",
    "=",
    ",",
    ":",
    "Громада",
    "Старобільська міська територіальна громада",
    "Їжак ґанок є",
    "日本語",
    "🇺🇦",
    "e\u0301",
)

# Ukrainian and other non-ASCII text that free-text fields (titles, full names) accept.
UKRAINIAN = st.text(
    alphabet=st.sampled_from(
        "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяАБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯ ’-.,0123456789"
    ),
    min_size=1,
    max_size=60,
)


def hostile_text(max_size: int = 80) -> st.SearchStrategy[str]:
    """A string likely to break something: nasty pieces, arbitrary Unicode, or huge."""
    piece = st.one_of(st.sampled_from(NASTY), st.text(max_size=8), UKRAINIAN)
    joined = st.lists(piece, min_size=1, max_size=6).map("".join)
    huge = st.sampled_from((*NASTY, "a")).map(lambda s: s * (20_000 // max(1, len(s))))
    return st.one_of(
        joined.filter(lambda s: len(s) <= max_size * 4),
        st.text(max_size=max_size),
        UKRAINIAN,
        huge,
    )


# Bounded runs: the whole property suite must stay well under a minute.
BOUNDED = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=False,
)


@dataclass
class Trials:
    """How many examples a property test ran, and what (if anything) it lost."""

    count: int = 0
    lost: list[str] = field(default_factory=list)

    def tick(self) -> None:
        self.count += 1
