"""Driver tests run against libvirt's built-in test driver: the real API, no hypervisor.

Every `test:///default` connection in one process shares its state, so tests use
unique names and clean up after themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from lab.driver.connection import Driver

TEST_URI = "test:///default"


@pytest.fixture
def driver() -> Iterator[Driver]:
    with Driver.open(TEST_URI) as opened:
        yield opened


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names of domains and networks."""
    return uuid.uuid4().hex[:8]
