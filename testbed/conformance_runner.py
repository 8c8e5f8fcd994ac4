"""``testbed conformance``: run the suite with pytest (and xdist), then write the report.

The suite runs in a child pytest process so its progress shows live; results (with each
test's trace) go to a JSON file per backend, and the HTML report is rendered from every
backend's results found beside it, so fake and qemu stand side by side.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

__all__ = ["run_conformance", "suite_path"]


def suite_path() -> Path:
    """Where the conformance suite (the ``conformance`` package) is installed."""
    import conformance

    return Path(conformance.__file__).resolve().parent


def run_conformance(
    *,
    backend: str = "fake",
    cloud: str | None = None,
    keyword: str | None = None,
    workers: str | None = "auto",
    html: Path = Path("reports/conformance.html"),
    junit: Path | None = Path("reports/conformance.xml"),
    results: Path | None = None,
    extra: list[str] | None = None,
) -> int:
    """Run the suite on ``backend``; returns pytest's exit status (non-zero on failures)."""
    from testbed.report import render_from_files

    results = results or html.with_name(f"{backend}.json")
    results.parent.mkdir(parents=True, exist_ok=True)
    suite = suite_path()
    args = [
        sys.executable,
        "-m",
        "pytest",
        str(suite),
        "--rootdir",
        str(suite),
        "-p",
        "no:cacheprovider",
        "-o",
        "console_output_style=progress",
        f"--testbed-backend={backend}",
        f"--testbed-results={results}",
    ]
    if cloud:
        args.append(f"--testbed-cloud={cloud}")
    if keyword:
        args += ["-k", keyword]
    if workers and workers not in ("0", "1"):
        args += ["-n", workers, "--dist", "loadfile"]
    args += extra or []
    print(f"testbed conformance: {backend} backend, suite {suite}", flush=True)
    started = time.perf_counter()
    status = subprocess.call(args)
    wall = time.perf_counter() - started
    if not results.exists():
        print(f"testbed conformance: no results were written ({results})", file=sys.stderr)
        return status or 1
    siblings = sorted(p for p in html.parent.glob("*.json") if p != results)
    render_from_files([results, *[p for p in siblings if _is_results(p)]], html, junit)
    print(
        f"testbed conformance: {backend} run took {wall:.1f} s wall time ({workers or 1} workers)"
    )
    print(f"testbed conformance: report {html}" + (f", JUnit {junit}" if junit else ""))
    return status


def _is_results(path: Path) -> bool:
    """Whether ``path`` is a results file of another backend (not a stray JSON)."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == 1 and "runs" in data
