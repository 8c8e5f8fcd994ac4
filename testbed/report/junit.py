"""JUnit XML for CI readers (Jenkins, GitLab, GitHub test reporters): one testsuite per run.

Layout follows pytest's ``--junitxml`` (xunit2): ``classname`` is the dotted module path of
the node id plus any class, prefixed by the backend so the same test on two backends stays
two distinct cases in readers that flatten suites; ``name`` is the test function with its
parameters. Failures become ``<failure>``, errors ``<error>``, skips ``<skipped>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from testbed.report.model import Results, TestResult
from testbed.report.summary import count, run_labels
from testbed.report.svgutil import clean


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """(classname, name) from a pytest node id, the way pytest's junitxml derives them."""
    parts = nodeid.split("::")
    path = parts[0]
    if path.endswith(".py"):
        path = path[:-3]
    module = path.replace("/", ".").replace("\\", ".").strip(".")
    names = [module, *parts[1:-1]] if len(parts) > 1 else [module]
    name = parts[-1] if len(parts) > 1 else nodeid
    return ".".join(n for n in names if n), name


def _secs(value: float) -> str:
    return f"{value:.3f}"


def _case(suite: ET.Element, backend: str, test: TestResult) -> None:
    classname, name = split_nodeid(test.nodeid)
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": f"{backend}.{classname}" if classname else backend,
            "name": clean(name or test.name),
            "time": _secs(test.duration),
        },
    )
    message = clean(test.message)
    if test.outcome in ("failed", "error"):
        tag = "failure" if test.outcome == "failed" else "error"
        element = ET.SubElement(case, tag, {"message": message or test.outcome})
        element.text = clean(test.longrepr or test.message)
    elif test.outcome == "skipped":
        ET.SubElement(case, "skipped", {"type": "pytest.skip", "message": message})


def render_junit(results: Results) -> str:
    """JUnit XML text for ``results``: a ``<testsuites>`` with one ``<testsuite>`` per run."""
    totals = count(t for run in results.runs for t in run.tests)
    root = ET.Element(
        "testsuites",
        {
            "name": "nova-testbed conformance",
            "tests": str(totals.total),
            "failures": str(totals.failed),
            "errors": str(totals.error),
            "skipped": str(totals.skipped),
            "time": _secs(sum(run.wall_time for run in results.runs)),
        },
    )
    for label, run in zip(run_labels(results), results.runs, strict=True):
        c = count(run.tests)
        attrs = {
            "name": clean(label),
            "tests": str(c.total),
            "failures": str(c.failed),
            "errors": str(c.error),
            "skipped": str(c.skipped),
            "time": _secs(run.wall_time),
        }
        if run.started:
            attrs["timestamp"] = clean(run.started)
        suite = ET.SubElement(root, "testsuite", attrs)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "backend", "value": clean(run.backend)})
        ET.SubElement(props, "property", {"name": "workers", "value": str(run.workers)})
        for key, value in sorted(run.environment.items()):
            ET.SubElement(props, "property", {"name": clean(key), "value": clean(value)})
        for test in run.tests:
            _case(suite, clean(label), test)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'
