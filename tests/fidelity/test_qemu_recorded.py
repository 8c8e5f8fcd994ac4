"""fakevirt against what real QEMU nodes did, recorded: runs anywhere (no Docker needed).

tests/fidelity/qemu_transcripts.json holds the transcripts of the scenarios of
qemu_scenarios.py on two real nodes (libvirt 9.0, QEMU 7.2, Debian 12), written by
``TESTBED_RECORD_QEMU=1 pytest -m qemu tests/fidelity/test_qemu_fidelity.py``; that module
also checks, whenever it runs, that real nodes still behave as recorded.
"""

from __future__ import annotations

import pytest

from tests.fidelity.qemu_pairs import FakePair
from tests.fidelity.qemu_scenarios import SCENARIOS
from tests.fidelity.test_qemu_fidelity import differences, load_recorded, run_scenario


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fakevirt_matches_recorded_real_nodes(name: str) -> None:
    """The scenario on a fakevirt pair gives what it gave on real nodes."""
    recorded = load_recorded()
    assert name in recorded, "no recording: TESTBED_RECORD_QEMU=1 pytest -m qemu tests/fidelity"
    assert differences(name, recorded[name], run_scenario(FakePair(), name)) == []
