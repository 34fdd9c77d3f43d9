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
