"""Shared fixtures of the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.config import Config
from testbed.runtime import build_runtime
from testbed.service import Runtime


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    """A bare runtime: simulated clock (from 2026-01-01), in-memory bus, in-memory SQLite."""
    rt = build_runtime(Config(), clock_start=1_767_225_600.0)
    yield rt
    rt.clock.close()
    rt.store.close()
