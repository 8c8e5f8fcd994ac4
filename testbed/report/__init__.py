"""HTML conformance reports and JUnit XML from the conformance suite's results JSON.

Pure functions over :class:`~testbed.report.model.Results`::

    results = load_results("results.json")          # validates, clear errors
    html = render_report(results)                     # one self-contained HTML page
    xml = render_junit(results)                       # JUnit XML, one testsuite per backend
    write_report(results, "reports/index.html", junit_path="reports/junit.xml")
    render_from_files(["fake.json", "qemu.json"], "reports/index.html")  # merge backends
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from testbed.report.junit import render_junit
from testbed.report.model import (
    FORMAT_VERSION,
    Results,
    ResultsFormatError,
    Run,
    TestResult,
    TraceEvent,
    load_results,
    merge_results,
    parse_results,
    results_to_json,
)
from testbed.report.page import DEFAULT_TITLE, render_report

__all__ = [
    "DEFAULT_TITLE",
    "FORMAT_VERSION",
    "Results",
    "ResultsFormatError",
    "Run",
    "TestResult",
    "TraceEvent",
    "load_results",
    "merge_results",
    "parse_results",
    "render_from_files",
    "render_junit",
    "render_report",
    "results_to_json",
    "write_report",
]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_report(
    results: Results,
    html_path: str | Path,
    junit_path: str | Path | None = None,
    title: str = DEFAULT_TITLE,
) -> None:
    """Write the HTML report (and, if ``junit_path`` is given, JUnit XML) for ``results``.

    Parent directories are created; each file is replaced atomically.
    """
    _write(Path(html_path), render_report(results, title=title))
    if junit_path is not None:
        _write(Path(junit_path), render_junit(results))


def render_from_files(
    json_paths: Sequence[str | Path],
    html_path: str | Path,
    junit_path: str | Path | None = None,
    title: str = DEFAULT_TITLE,
) -> Results:
    """Load, validate and merge several results files, then write the report(s).

    Runs are shown in the order of the files (then of the runs inside each file). Returns
    the merged results. Raises :class:`ResultsFormatError` naming the first bad file.
    """
    if not json_paths:
        raise ResultsFormatError("no results files given")
    merged = merge_results([load_results(p) for p in json_paths])
    write_report(merged, html_path, junit_path, title=title)
    return merged
