"""Every profile in profiles/ can be brought up by a user, so every combination of roles
one of its machines carries must be provisioned and verified by the integration tests:
images are baked per combination, and a combination can lack what another role's
packages bring along (a directory, a config file). The integration tests bring up
profiles/role-sets.yaml (tests/integration/test_role_sets.py) and profiles/stack.yaml
(tests/integration/test_software_stack.py); this test keeps them complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.profile import load_profile
from lab.software.roles import packages_for

PROFILES = Path(__file__).parents[2] / "profiles"
PLAYBOOKS = PROFILES.parent / "playbooks"
# role-sets.yaml and stack.yaml by the integration tests; rural-hromada.yaml by the main
# job (`make demo`, the Makefile's DEMO_PROFILE), which CI runs and checks as verified.
PROVISIONED_BY_TESTS = ("role-sets.yaml", "stack.yaml", "rural-hromada.yaml")


def role_sets(path: Path) -> dict[frozenset[str], str]:
    profile = load_profile(path)
    return {frozenset(m.roles): f"{path.name}: {m.name}" for m in profile.machines if m.roles}


def role_sets_under_test() -> set[frozenset[str]]:
    return {roles for name in PROVISIONED_BY_TESTS for roles in role_sets(PROFILES / name)}


@pytest.mark.parametrize(
    "path", sorted(p for p in PROFILES.glob("[!_]*.yaml")), ids=lambda p: p.name
)
def test_every_role_combination_of_a_profile_is_provisioned_by_the_tests(path: Path) -> None:
    missing = {
        where: sorted(roles)
        for roles, where in role_sets(path).items()
        if roles not in role_sets_under_test()
    }
    assert not missing, (
        f"machines whose roles no integration test provisions: {missing}; add a machine "
        "with those roles to profiles/role-sets.yaml"
    )


def test_the_role_sets_profile_has_no_combination_twice() -> None:
    machines = [m for m in load_profile(PROFILES / "role-sets.yaml").machines]
    combos = [frozenset(m.roles) for m in machines]
    assert len(combos) == len(set(combos)), [sorted(c) for c in combos]


def test_sample_profiles_are_covered_at_all() -> None:
    # The parametrised test above must have had something to check.
    assert len(role_sets_under_test()) >= 7
    makefile = (PROFILES.parent / "Makefile").read_text()
    assert "DEMO_PROFILE ?= profiles/rural-hromada.yaml" in makefile
    assert any(role_sets(p) for p in PROFILES.glob("[!_]*.yaml") if p.name != "role-sets.yaml")


# A role names a Debian metapackage; the sample data lists the package it brings.
BROUGHT_BY = {"postgresql-15": "postgresql", "php8.2-fpm": "php-fpm"}


@pytest.mark.parametrize(
    "path", sorted(p for p in PROFILES.glob("[!_]*.yaml")), ids=lambda p: p.name
)
def test_a_built_machines_software_names_the_packages_its_roles_install(path: Path) -> None:
    # Sample data only (`software:` is never installed from): a machine the lab builds
    # that lists its software lists every package its roles install, and no other.
    for machine in load_profile(path).machines:
        if not machine.roles or not machine.software:
            continue
        listed = {BROUGHT_BY.get(s.package, s.package) for s in machine.software if s.package}
        installed = set(packages_for(PLAYBOOKS, machine))
        assert listed == installed, (
            f"{path.name}: {machine.name}: not listed {sorted(installed - listed)},"
            f" not installed by its roles {sorted(listed - installed)}"
        )


def test_one_sample_profile_is_the_recommended_stack() -> None:
    recommended = [p.name for p in PROFILES.glob("[!_]*.yaml") if load_profile(p).recommended]
    assert recommended == ["recommended-stack.yaml"]
