"""Pure aggregations over results: outcome counts, the capability matrix, tests across backends."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from testbed.report.model import Results, Run, TestResult

#: Capabilities in the order the report lists them; any others follow alphabetically.
CAPABILITY_ORDER: tuple[str, ...] = (
    "lifecycle",
    "state-machine",
    "api-errors",
    "auth-and-isolation",
    "cold-migration",
    "resize",
    "live-migration-block",
    "live-migration-shared",
    "live-migration-volume",
    "evacuate",
    "rebuild",
    "ha-recovery",
    "power-sync",
    "drift-repair",
)
_RANK = {name: i for i, name in enumerate(CAPABILITY_ORDER)}


def capability_sort_key(capability: str) -> tuple[int, str]:
    """Sort key putting known capabilities in their fixed order, then the rest by name."""
    return (_RANK.get(capability, len(_RANK)), capability)


@dataclass(frozen=True)
class Counts:
    """Outcome counts of a set of tests."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    error: int = 0

    @property
    def total(self) -> int:
        """Number of tests counted."""
        return self.passed + self.failed + self.skipped + self.error

    @property
    def bad(self) -> int:
        """Failures plus errors."""
        return self.failed + self.error

    @property
    def status(self) -> str:
        """One word for colouring: ``fail``, ``pass``, ``skip`` or ``empty``."""
        if self.bad:
            return "fail"
        if self.passed:
            return "pass"
        return "skip" if self.skipped else "empty"


def count(tests: Iterable[TestResult]) -> Counts:
    """Count the outcomes of ``tests``."""
    tally = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for test in tests:
        tally[test.outcome] += 1
    return Counts(**tally)


def run_labels(results: Results) -> list[str]:
    """Column labels, one per run: the backend name, made unique with a ``#n`` suffix."""
    seen: dict[str, int] = {}
    labels = []
    for run in results.runs:
        seen[run.backend] = seen.get(run.backend, 0) + 1
        n = seen[run.backend]
        labels.append(run.backend if n == 1 else f"{run.backend} #{n}")
    return labels


def capabilities(results: Results) -> list[str]:
    """All capabilities present in any run, in report order."""
    found = {t.capability for run in results.runs for t in run.tests}
    return sorted(found, key=capability_sort_key)


def capability_slug(capability: str) -> str:
    """A deterministic HTML id for a capability section, distinct for distinct names."""
    lowered = capability.lower()
    safe = "".join(c if c.isascii() and c.isalnum() else "-" for c in lowered).strip("-")
    if safe and safe == capability:
        return "cap-" + safe
    return f"cap-{safe or 'x'}-{zlib.crc32(capability.encode()):08x}"


def matrix(results: Results) -> list[tuple[str, list[Counts | None]]]:
    """Rows of (capability, counts per run); ``None`` where a run has no such test."""
    rows = []
    for cap in capabilities(results):
        cells: list[Counts | None] = []
        for run in results.runs:
            tests = [t for t in run.tests if t.capability == cap]
            cells.append(count(tests) if tests else None)
        rows.append((cap, cells))
    return rows


@dataclass(frozen=True)
class TestRow:
    """One test (matched by test id) across all runs."""

    __test__ = False  # not a pytest test class

    key: str
    nodeid: str
    name: str
    test_id: str
    capability: str
    per_run: tuple[TestResult | None, ...]

    @property
    def outcomes(self) -> set[str]:
        """The distinct outcomes this test had on the runs that ran it."""
        return {r.outcome for r in self.per_run if r is not None}

    @property
    def differs(self) -> bool:
        """True when two backends ran this test with different outcomes."""
        return len(self.outcomes) > 1


def rows_by_capability(results: Results) -> dict[str, list[TestRow]]:
    """Tests grouped by capability (report order), each sorted by node id."""
    index: dict[str, list[TestResult | None]] = {}
    first: dict[str, TestResult] = {}
    n = len(results.runs)
    for i, run in enumerate(results.runs):
        for test in run.tests:
            slots = index.setdefault(test.key, [None] * n)
            if slots[i] is None:
                slots[i] = test
            first.setdefault(test.key, test)
    grouped: dict[str, list[TestRow]] = {cap: [] for cap in capabilities(results)}
    for key, slots in index.items():
        head = first[key]
        grouped[head.capability].append(
            TestRow(key, head.nodeid, head.name, head.test_id, head.capability, tuple(slots))
        )
    for rows in grouped.values():
        rows.sort(key=lambda r: (r.nodeid, r.key))
    return {cap: rows for cap, rows in grouped.items() if rows}


def differing(rows: dict[str, list[TestRow]]) -> list[TestRow]:
    """All tests whose outcome differs between backends."""
    return [r for cap_rows in rows.values() for r in cap_rows if r.differs]


def run_summary(run: Run) -> str:
    """One line such as ``fake: 142 tests in 11.8 s with 2 workers``."""
    workers = "1 worker" if run.workers == 1 else f"{run.workers} workers"
    tests = "1 test" if len(run.tests) == 1 else f"{len(run.tests)} tests"
    return f"{run.backend}: {tests} in {run.wall_time:.1f} s with {workers}"


def overall(runs: Sequence[Run]) -> Counts:
    """Counts over all tests of all ``runs``."""
    return count(t for run in runs for t in run.tests)
