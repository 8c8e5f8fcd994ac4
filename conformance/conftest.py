"""Fixtures of the conformance suite, on top of the testbed pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.support import CloudUnderTest


def pytest_configure(config: pytest.Config) -> None:
    # openstacksdk warns about its own future removals on nearly every call.
    config.addinivalue_line("filterwarnings", "ignore::Warning:openstack")
    config.addinivalue_line("filterwarnings", "ignore::Warning:keystoneauth1")


@pytest.fixture
def cloud(testbed_cloud: Any) -> Iterator[CloudUnderTest]:
    """The cloud under test; servers made through it are deleted afterwards, then the
    cloud's invariants are checked (no instance on two hosts, allocations matching
    instances, everything settled, usage equal to flavors, migrations terminal)."""
    under_test = CloudUnderTest(
        testbed_cloud.admin_conn, testbed_cloud.demo_conn, testbed_cloud.control
    )
    yield under_test
    if under_test.control is not None:
        under_test.control.set_clock_mode("auto")
        under_test.control.clear_faults()
    under_test.cleanup()
    if under_test.control is not None:
        violations = under_test.control.invariants()
        if violations:
            pytest.fail(
                "cloud invariants broken after the test:\n  " + "\n  ".join(violations),
                pytrace=False,
            )
