"""``python -m testbed.report RESULTS.json [...] -o report.html [--junit junit.xml]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from testbed.report import DEFAULT_TITLE, ResultsFormatError, render_from_files
from testbed.report.summary import count, run_summary


def main(argv: Sequence[str] | None = None) -> int:
    """Render results JSON files into an HTML report; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m testbed.report",
        description="Render conformance results JSON into an HTML report (and JUnit XML).",
    )
    parser.add_argument("results", nargs="+", help="results JSON files (one or more backends)")
    parser.add_argument("-o", "--output", default="reports/index.html", help="HTML file to write")
    parser.add_argument("--junit", default=None, help="also write JUnit XML here")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="report title")
    args = parser.parse_args(argv)
    try:
        merged = render_from_files(args.results, args.output, args.junit, title=args.title)
    except (ResultsFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for run in merged.runs:
        c = count(run.tests)
        print(f"{run_summary(run)}: {c.passed} passed, {c.bad} failed, {c.skipped} skipped")
    print(f"wrote {args.output}" + (f" and {args.junit}" if args.junit else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
