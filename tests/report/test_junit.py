"""JUnit XML output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from testbed.report import parse_results, render_junit
from testbed.report.junit import split_nodeid

from .sample import sample_results


def test_split_nodeid_like_pytest() -> None:
    assert split_nodeid("conformance/test_x.py::TestA::test_b[1]") == (
        "conformance.test_x.TestA",
        "test_b[1]",
    )
    assert split_nodeid("conformance/test_x.py::test_b") == ("conformance.test_x", "test_b")


def test_junit_has_a_suite_per_backend_with_the_right_counts() -> None:
    xml = render_junit(parse_results(sample_results()))
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "13",
        "1",
        "1",
        "2",
    )
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["fake", "qemu"]
    fake, qemu = suites
    assert (
        fake.get("tests"),
        fake.get("failures"),
        fake.get("errors"),
        fake.get("skipped"),
        fake.get("time"),
        fake.get("timestamp"),
    ) == ("7", "0", "1", "1", "11.800", "2026-11-24T01:00:00Z")
    assert len(fake.findall("testcase")) == 7 and len(qemu.findall("testcase")) == 6
    props = {p.get("name"): p.get("value") for p in fake.iter("property")}
    assert props["workers"] == "2" and props["python"] == "3.11.7"


def test_junit_cases_carry_failures_errors_and_skips() -> None:
    root = ET.fromstring(render_junit(parse_results(sample_results())))
    qemu = root.findall("testsuite")[1]
    cases = {c.get("name"): c for c in qemu.findall("testcase")}
    mig = cases["test_block_migration"]
    assert mig.get("classname") == "qemu.conformance.test_live_migration.TestBlock"
    assert mig.get("time") == "1.900"
    failure = mig.find("failure")
    assert failure is not None and "alert(1)" in (failure.get("message") or "")
    assert "assert server.status == 'ACTIVE'" in (failure.text or "")
    assert "\x1b" not in (failure.text or "")
    skipped = cases["test_console_log"].find("skipped")
    assert skipped is not None and skipped.get("message") == (
        "console log not supported by the fake driver"
    )
    assert cases["test_boot"].find("failure") is None and cases["test_boot"].find("skipped") is None
    fake = root.findall("testsuite")[0]
    error = [c for c in fake.findall("testcase") if c.find("error") is not None]
    assert [c.get("name") for c in error] == ["test_evacuate_many"]


def test_junit_is_deterministic() -> None:
    results = parse_results(sample_results())
    assert render_junit(results) == render_junit(results)
