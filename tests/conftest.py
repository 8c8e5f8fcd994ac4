"""Shared fixtures of the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.config import Config
from testbed.runtime import build_runtime
from testbed.service import Runtime


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    """A bare runtime: simulated clock, in-memory bus, in-memory SQLite store."""
    rt = build_runtime(Config())
    yield rt
    rt.clock.close()
    rt.store.close()
