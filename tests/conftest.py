"""Test tiers: unit (pure), driver (libvirt test:///default), integration (real guests).

Integration tests need root and a libvirtd running in a lab network namespace
(`scripts/labns run ...`, which sets LAB_NETNS). Outside one they are skipped,
unless LAB_REQUIRE_INTEGRATION=1 (as `make test` and CI set), where a missing
namespace is an error: CI must never pass by skipping the tests that matter.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("LAB_NETNS"):
        return
    wanted = [item for item in items if "integration" in item.keywords]
    if not wanted:
        return
    if os.environ.get("LAB_REQUIRE_INTEGRATION") == "1":
        raise pytest.UsageError(
            "integration tests need libvirtd in a lab namespace: run them via `make test`"
        )
    skip = pytest.mark.skip(reason="needs a lab namespace: run via `make test`")
    for item in wanted:
        item.add_marker(skip)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each test's time, written as it ends to LAB_TEST_TIMINGS when set (`make test` sets
    it; phases under a second that passed are left out): a run stopped by CI's clock still
    shows where its time went."""
    path = os.environ.get("LAB_TEST_TIMINGS")
    if not path or (report.duration < 1.0 and report.passed):
        return
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"{report.duration:8.1f} {report.when:8} {report.outcome:7} {report.nodeid}\n")
