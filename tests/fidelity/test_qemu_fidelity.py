"""fakevirt against real QEMU nodes: the same scenarios on two fake hosts and two real ones.

One module-scoped :class:`~testbed.qemu.nodes.NodeCluster` of two nodes without shared
instance storage (``/var/lib/testbed/volumes`` is the storage both mount); each scenario runs
on the real pair, then on a fresh fakevirt pair, and every transcript entry (results, errors
with code, domain and message, the events each host saw, job statistics keys) must be equal,
but for the known deviations listed in :data:`KNOWN_DEVIATIONS` (also in docs/fakevirt.md).
At most two real guests run at a time.

Needs Docker, mmdebstrap, qemu-img and libvirt-python (``tox -e qemu``; select with
``-m qemu``). Without them the tests skip with the reason, except under ``CI`` where they
fail. ``TESTBED_RECORD_QEMU=1`` rewrites the recorded transcripts
(tests/fidelity/qemu_transcripts.json) that test_qemu_recorded.py checks fakevirt against
on machines without Docker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fidelity.qemu_pairs import FakePair, Pair, RealPair
from tests.fidelity.qemu_scenarios import SCENARIOS, Transcript

pytestmark = pytest.mark.qemu

RECORDED = os.path.join(os.path.dirname(__file__), "qemu_transcripts.json")

#: (scenario, label) -> why fakevirt differs there; those entries are not compared.
KNOWN_DEVIATIONS: dict[tuple[str, str], str] = {}


def _require_qemu() -> None:
    from tests.qemu.conftest import require_qemu

    require_qemu()


@pytest.fixture(scope="module")
def real_pair() -> Iterator[RealPair]:
    """node1 and node2 of a fresh two-node cluster (host-local instance storage)."""
    _require_qemu()
    from testbed.qemu.nodes import NodeCluster

    with NodeCluster(["node1", "node2"], shared_instances=False) as cluster:
        yield RealPair(cluster)


def run_scenario(pair: Pair, name: str) -> list[tuple[str, Any]]:
    """Run one scenario; always leave both hosts without domains."""
    transcript = Transcript(pair)
    try:
        SCENARIOS[name](pair, transcript)
    finally:
        pair.cleanup()
    return as_json(transcript.entries)


def as_json(entries: list[tuple[str, Any]]) -> list[Any]:
    """Entries as they read back from JSON (tuples become lists)."""
    loaded: list[Any] = json.loads(json.dumps(entries))
    return loaded


def _without_racy_events(value: Any) -> Any:
    """Drop a SHUTDOWN/HOST event right before STOPPED/DESTROYED.  On a real node
    ``destroy()`` races QEMU's own shutdown notice: under load libvirt sometimes kills the
    process before QEMU reports it, so that event comes or not (seen in CI)."""
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], list)):
        return value
    events = value[1]
    kept = [
        e
        for i, e in enumerate(events)
        if not (
            isinstance(e, list)
            and e[1:] == ["SHUTDOWN", 2]
            and i + 1 < len(events)
            and events[i + 1][1:] == ["STOPPED", 1]
        )
    ]
    return [value[0], kept]


def differences(name: str, real: list[Any], fake: list[Any]) -> list[str]:
    """Readable differences between two transcripts of scenario ``name``."""
    out: list[str] = []
    real_labels = [label for label, _ in real]
    fake_labels = [label for label, _ in fake]
    if real_labels != fake_labels:
        return [f"different calls: real {real_labels} / fake {fake_labels}"]
    for (label, r), (_, f) in zip(real, fake, strict=True):
        if str(label).startswith("events"):
            r, f = _without_racy_events(r), _without_racy_events(f)
        if r != f and (name, label) not in KNOWN_DEVIATIONS:
            out.append(f"{label}: real {r} / fake {f}")
    return out


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fakevirt_matches_real_nodes(real_pair: RealPair, name: str) -> None:
    """Every call of the scenario gives the same result, error and events on both pairs,
    and the real nodes still do what qemu_transcripts.json recorded."""
    real = run_scenario(real_pair, name)
    fake = run_scenario(FakePair(), name)
    recorded = load_recorded()
    if os.environ.get("TESTBED_RECORD_QEMU", "") not in ("", "0"):
        recorded[name] = real
        with open(RECORDED, "w", encoding="utf-8") as fh:
            json.dump(recorded, fh, indent=1, sort_keys=True)
            fh.write("\n")
    assert differences(name, real, fake) == []
    assert differences(name, real, recorded.get(name, [])) == [], (
        "real nodes changed: re-record with TESTBED_RECORD_QEMU=1"
    )


def load_recorded() -> dict[str, Any]:
    """The recorded transcripts of real nodes, by scenario."""
    if not os.path.exists(RECORDED):
        return {}
    with open(RECORDED, encoding="utf-8") as fh:
        recorded: dict[str, Any] = json.load(fh)
    return recorded
