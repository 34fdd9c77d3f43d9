"""Fixtures for integration tests: real libvirtd (in the test namespace), real TCG guests.

Each test run gets its own LAB_HOME (state, labs, keys), libvirt prefix (`hlt-`, or
LAB_TEST_PREFIX) and management pool (LAB_TEST_MGMT_POOL);
the image store is shared with the host's LAB_HOME (built once by `make image`),
linked in, so no test rebuilds an image.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from lab.baselines import generations, resets
from lab.classes import classes
from lab.labs import lifecycle
from lab.labs.records import LabRecord
from lab.settings import Settings
from lab.templates import templates
from tests.homes import fresh_home

PREFIX = os.environ.get("LAB_TEST_PREFIX", "hlt-")
MGMT_POOL = os.environ.get("LAB_TEST_MGMT_POOL", "10.250.0.0/16")
PROFILES = Path(__file__).parents[2] / "profiles"


@pytest.fixture(scope="session")
def lab_home() -> Iterator[Path]:
    with fresh_home("run") as home:
        yield home


@pytest.fixture(scope="session")
def settings(lab_home: Path) -> Iterator[Settings]:
    # Two test runs can share a namespace (`make test` runs its heaviest module beside the
    # rest): each has its own libvirt prefix and management pool, so neither takes the
    # other's labs for orphans nor picks the same subnet at the same instant.
    s = Settings(
        home=lab_home,
        prefix=PREFIX,
        mgmt_pool=IPv4Network(MGMT_POOL),
        accel="auto",
        boot_timeout=600,
    )
    yield s
    # Whatever a failed test left behind goes, and the run ends with nothing of ours.
    lifecycle.reconcile(s)
    for lab in lifecycle.list_labs(s):
        lifecycle.down(s, lab.name)


@pytest.fixture(scope="session")
def lab_env(settings: Settings) -> dict[str, str]:
    """Environment for running the `lab` CLI against the test settings."""
    return {
        **os.environ,
        "LAB_HOME": str(settings.home),
        "LAB_PREFIX": settings.prefix,
        "LAB_MGMT_POOL": str(settings.mgmt_pool),
        "LAB_BOOT_TIMEOUT": str(settings.boot_timeout),
    }


@pytest.fixture(scope="session")
def tiny_class(settings: Settings) -> Iterator[tuple[str, ...]]:
    """Class `cr`: two seats of profiles/tiny.yaml, shared by every module that needs a
    class or a baselined lab (fresh boots are where the suite's time goes). The reset tests
    (test_class_reset.py) take it first, while its seats have no baseline yet; the fault
    trials and the load test come after and find it baselined (`baselined_class`)."""
    record, outcomes = classes.create(settings, PROFILES / "tiny.yaml", "cr", 2)
    assert [(o.seat, o.ok) for o in outcomes] == [(s, True) for s in record.seats], outcomes
    yield record.seats
    classes.delete(settings, record.name)


@pytest.fixture(scope="module")
def baselined_class(settings: Settings, tiny_class: tuple[str, ...]) -> tuple[str, ...]:
    """The shared class, every seat with a baseline in force (captured here if missing)."""
    if any(generations.current(lifecycle.get_lab(settings, s).plan) is None for s in tiny_class):
        assert all(o.ok for o in classes.baseline(settings, "cr")), "class baseline failed"
    return tiny_class


DebBuilder = Callable[[str, str], Path]


STACK_LAB = "st1"
STACK_TEMPLATE = "stack"


@pytest.fixture(scope="session")
def stack_lab(settings: Settings) -> Iterator[LabRecord]:
    """Lab `st1` of profiles/stack.yaml (four roles on one machine), provisioned and
    verified by `up`, shared by the software-stack and template modules. The template
    `stack` is taken from it at once (see `stack_template`), before any test changes it."""
    lines: list[str] = []
    record = lifecycle.up(
        settings, PROFILES / "stack.yaml", STACK_LAB, lambda s, m: lines.append(f"{s}: {m}")
    )
    # `up` provisioned the roles: their changed tasks were reported as progress.
    assert any("web-portal:" in line and "(changed)" in line for line in lines), lines
    resets.baseline(settings, STACK_LAB)
    templates.create(settings, STACK_LAB, STACK_TEMPLATE)
    yield record
    lifecycle.down(settings, STACK_LAB)


@pytest.fixture
def build_deb(tmp_path: Path) -> DebBuilder:
    """Builds a tiny package under test: `build_deb(package, version)` -> the .deb, which
    installs /usr/share/PACKAGE/VERSION holding the version."""

    def build(package: str, version: str) -> Path:
        root = tmp_path / f"{package}-root"
        (root / "DEBIAN").mkdir(parents=True)
        (root / "DEBIAN" / "control").write_text(
            f"Package: {package}\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: Hromada Lab <lab@example.invalid>\nDescription: software under test\n"
        )
        (root / "usr" / "share" / package).mkdir(parents=True)
        (root / "usr" / "share" / package / "VERSION").write_text(f"{version}\n")
        deb = tmp_path / f"{package}_{version}_all.deb"
        subprocess.run(["dpkg-deb", "--build", "--root-owner-group", root, deb], check=True)
        return deb

    return build
