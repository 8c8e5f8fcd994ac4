"""Counts, the capability matrix and cross-backend comparison."""

from __future__ import annotations

from testbed.report import parse_results
from testbed.report.summary import (
    CAPABILITY_ORDER,
    Counts,
    capabilities,
    capability_slug,
    differing,
    matrix,
    rows_by_capability,
    run_labels,
    run_summary,
)

from .sample import sample_results


def test_capabilities_follow_the_fixed_order_then_alphabetical() -> None:
    results = parse_results(sample_results())
    assert capabilities(results) == [
        "lifecycle",
        "resize",
        "live-migration-block",
        "evacuate",
        "quotas",
    ]
    assert CAPABILITY_ORDER[0] == "lifecycle" and CAPABILITY_ORDER[-1] == "drift-repair"


def test_matrix_counts_per_capability_and_backend() -> None:
    rows = dict(matrix(parse_results(sample_results())))
    assert rows["lifecycle"] == [Counts(passed=2, skipped=1), Counts(passed=2, skipped=1)]
    assert rows["live-migration-block"] == [Counts(passed=1), Counts(failed=1)]
    assert rows["evacuate"] == [Counts(error=1), Counts(passed=1)]
    assert rows["quotas"] == [Counts(passed=1), None]  # qemu has no quotas test: "—"
    assert [c.status for c in rows["live-migration-block"] if c] == ["pass", "fail"]
    assert Counts(skipped=2).status == "skip" and Counts().status == "empty"


def test_tests_are_matched_across_backends_by_test_id() -> None:
    grouped = rows_by_capability(parse_results(sample_results()))
    lifecycle = grouped["lifecycle"]
    assert [r.name for r in lifecycle] == [
        "test_boot",
        'test_boot_and_delete[<b>&"x"]',
        "test_console_log",
    ]
    assert all(len(r.per_run) == 2 and None not in r.per_run for r in lifecycle)
    quotas = grouped["quotas"][0]
    assert quotas.per_run[1] is None and not quotas.differs
    assert sorted(r.name for r in differing(grouped)) == [
        "test_block_migration",
        "test_evacuate_many",
    ]


def test_run_labels_are_unique_and_summary_reads_well() -> None:
    results = parse_results(sample_results(("fake", "qemu", "fake")))
    assert run_labels(results) == ["fake", "qemu", "fake #2"]
    assert run_summary(results.runs[0]) == "fake: 7 tests in 11.8 s with 2 workers"
    assert run_summary(results.runs[1]) == "qemu: 6 tests in 41.8 s with 1 worker"


def test_capability_slug_is_a_safe_id() -> None:
    assert capability_slug("live-migration-block") == "cap-live-migration-block"
    odd = capability_slug('a "b" <c>')
    assert odd.startswith("cap-a--b---c-") and odd != capability_slug("a-b-c")
    assert capability_slug("Resize") != capability_slug("resize")
