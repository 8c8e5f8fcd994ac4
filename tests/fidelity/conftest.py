"""Fidelity tests: fakevirt against libvirt's test driver, and against real QEMU nodes.

Tests marked ``qemu`` (tests/fidelity/test_qemu_fidelity.py) start node containers: they run
when selected with ``-m qemu`` (``tox -e qemu``) and are skipped with that reason otherwise, so
a plain ``pytest tests`` stays fast.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "qemu: needs Docker + mmdebstrap: real libvirt/QEMU compute-host containers"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "qemu" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="real QEMU nodes: select with -m qemu (tox -e qemu)")
    for item in items:
        if item.get_closest_marker("qemu") is not None and "fidelity" in str(item.path):
            item.add_marker(skip)
