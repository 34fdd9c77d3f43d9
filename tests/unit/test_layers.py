"""The layers, kept by a test: what may import what.

- libvirt is imported only by the driver's connection module (one place talks to libvirt);
- subprocess only by lab/commands.py (one gate runs every external command of the host;
  a program shipped to a guest runs the guest's own clients, there, by itself);
- the API never reaches past the use cases into the driver;
- the driver, the bottom layer, imports nothing of the lab above it (no settings: its
  connection URI and everything else come in as arguments);
- a program shipped to a guest (the probe program) imports only the standard library;
- the pure modules (profile models, plan, naming, the XML builders and the specs they
  build from) import no I/O library and no module that does I/O, so they stay testable
  without a host.

Imports are read from the source (ast), so an import inside a function counts too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("lab", "api")

LIBVIRT_SITE = {"lab/driver/connection.py"}
SUBPROCESS_SITE = {"lab/commands.py"}
PURE = {
    "lab/base.py",
    "lab/baselines/batch.py",
    "lab/courses/judging.py",
    "lab/courses/outcomes.py",
    "lab/labs/naming.py",
    "lab/labs/plan.py",
    "lab/labs/topology.py",
    "lab/driver/specs.py",
    "lab/driver/domain_xml.py",
    "lab/driver/network_xml.py",
    "lab/driver/nwfilter_xml.py",
    "lab/driver/filter_bindings.py",
    "lab/driver/saved_state.py",
    "lab/templates/plan.py",
    "lab/placement/model.py",
    "lab/host/model.py",
    "lab/host/uris.py",
    "lab/host/netfilter.py",
    "lab/driver/pool_xml.py",
    "lab/placement/place.py",
    "lab/images/imports.py",
    "lab/images/inspection.py",
    "lab/images/ovf.py",
    "lab/profile/models.py",
    "lab/profile/types.py",
    "lab/profile/checks.py",
    "lab/profile/messages.py",
    "lab/profile/problems.py",
    "lab/probes/model.py",
    "lab/probes/waiting.py",
}
# Programs shipped to a guest and run by its python3: the standard library is all they have.
GUEST_PROGRAMS = {"lab/probes/_probe_program.py"}
# What a pure module must not import: libraries that reach the host, and our modules that do.
IO = (
    "os",
    "shutil",
    "socket",
    "sqlite3",
    "subprocess",
    "libvirt",
    "libvirt_qemu",
    "paramiko",
    "ansible_runner",
    "httpx",
    "lab.commands",
    "lab.settings",
    "lab.store",
    "lab.driver.connection",
)


def modules() -> Iterator[tuple[str, set[str]]]:
    """(path relative to the repository, every module name it imports)."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            yield rel, imports(path)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def uses(names: set[str], module: str) -> bool:
    return any(n == module or n.startswith(module + ".") for n in names)


def offenders(rule: str) -> list[str]:
    found = []
    for rel, names in modules():
        if rule == "libvirt" and rel not in LIBVIRT_SITE:
            bad = [n for n in names if uses({n}, "libvirt") or uses({n}, "libvirt_qemu")]
        elif rule == "subprocess" and rel not in SUBPROCESS_SITE | GUEST_PROGRAMS:
            bad = [n for n in names if uses({n}, "subprocess")]
        elif rule == "api-driver" and rel.startswith("api/"):
            bad = [n for n in names if uses({n}, "lab.driver")]
        elif rule == "pure" and rel in PURE:
            bad = [n for n in names for io in IO if uses({n}, io)]
            if not rel.startswith("lab/driver/"):  # above the driver, never from it
                bad += [n for n in names if uses({n}, "lab.driver")]
        elif rule == "guest" and rel in GUEST_PROGRAMS:
            bad = [n for n in names if n.split(".")[0] not in sys.stdlib_module_names]
        elif rule == "driver" and rel.startswith("lab/driver/"):
            # The bottom layer: everything it needs comes in as arguments (no settings).
            bad = [
                n
                for n in names
                if uses({n}, "lab") and not (uses({n}, "lab.driver") or uses({n}, "lab.errors"))
            ]
        else:
            bad = []
        found += [f"{rel} imports {name}" for name in sorted(set(bad))]
    return found


@pytest.mark.parametrize("rule", ["libvirt", "subprocess", "api-driver", "pure", "driver", "guest"])
def test_layer_rule(rule: str) -> None:
    assert offenders(rule) == []


def test_the_rules_see_the_code() -> None:
    # A rule over nothing would pass for ever: the sites and pure modules exist and are read.
    seen = dict(modules())
    for rel in LIBVIRT_SITE | SUBPROCESS_SITE | PURE | GUEST_PROGRAMS:
        assert rel in seen, f"{rel} is gone: update this test's lists"
    assert uses(seen["lab/driver/connection.py"], "libvirt")
    assert uses(seen["lab/commands.py"], "subprocess")
    assert len(seen) > 60


def test_a_planted_violation_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    import subprocess\n    from libvirt import open\n")
    names = imports(planted)
    assert uses(names, "subprocess") and uses(names, "libvirt")
