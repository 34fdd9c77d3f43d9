"""Every combination of roles that a profile in profiles/ gives a machine, provisioned and
verified on a real TCG guest (profiles/role-sets.yaml: five machines, booted two at a
time on two cores; the demo profile's two combinations are the main job's, which CI runs
first). A sample profile cannot then fail for a user on a role combination while the tests
are green: a workstation without the directory role once lacked /etc/ldap, which only the
directory role's packages had brought along.

`make test-images` prepared the profile's role images before the namespace existed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.labs import lifecycle
from lab.labs.records import LabRecord
from lab.profile import load_profile
from lab.settings import Settings
from lab.software import verification as verifying

PROFILE = Path(__file__).parents[2] / "profiles" / "role-sets.yaml"
NAME = "rs1"

# Five emulated machines provisioned beside the other stream's guests: about half an hour
# on an idle 2-core host, up to an hour while the other stream boots its own labs.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(4800)]


@pytest.fixture(scope="module")
def role_sets(settings: Settings) -> Iterator[tuple[LabRecord, list[str]]]:
    lines: list[str] = []
    record = lifecycle.up(settings, PROFILE, NAME, lambda s, m: lines.append(f"{s}: {m}"))
    yield record, lines
    lifecycle.down(settings, NAME)


def test_every_machine_is_provisioned_and_every_role_verified(
    role_sets: tuple[LabRecord, list[str]],
) -> None:
    record, _ = role_sets
    assert record.provisioned_at is not None
    assert record.verification is not None and record.verification.passed
    verification = verifying.latest(record.plan)
    assert verification is not None
    failed = [r for r in verification.results if r.outcome is not verifying.Outcome.PASSED]
    assert verification.passed and not failed, failed
    # Each role's own tests ran on each machine that carries it (none skipped, none
    # missing), not only the profile's checks.
    ran = {(r.machine, r.role) for r in verification.results}
    for machine in load_profile(PROFILE).machines:
        for role in machine.roles:
            assert (machine.name, role) in ran, f"no tests of role {role} ran on {machine.name}"


def test_boots_were_paced_to_the_cores(role_sets: tuple[LabRecord, list[str]]) -> None:
    _, lines = role_sets
    if not any(line.startswith("lab: accelerator: qemu") for line in lines):
        pytest.skip("boots are paced only under TCG")
    assert any("booting 5 machines" in line and "at a time" in line for line in lines), lines
