"""The pytest plugin as another project sees it: fixtures, options, markers, results."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

OTHER_PROJECTS_TESTS = """
import pytest


def test_boots_a_server(testbed_conn, testbed_control):
    image = testbed_conn.image.find_image("cirros", ignore_missing=False)
    server = testbed_conn.compute.create_server(
        name="x", flavor_id="1", image_id=image.id, networks="none")
    testbed_control.settle()
    assert testbed_conn.compute.get_server(server.id).status == "ACTIVE"


def test_a_member_sees_only_its_own_servers(testbed_demo_conn):
    assert list(testbed_demo_conn.compute.servers()) == []


@pytest.mark.testbed_capability("lifecycle")
@pytest.mark.testbed_id("0f6f0a3e-6a43-4f7e-9d55-3f4f1c3f1a01")
def test_time_moves_only_when_asked(testbed_control):
    before = testbed_control.now()
    assert testbed_control.advance(600) == before + 600


@pytest.mark.testbed_requires("no-such-feature")
def test_skipped_when_the_cloud_lacks_a_feature(testbed_conn):
    raise AssertionError("never runs")
"""


def test_another_project_uses_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_other=OTHER_PROJECTS_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.no_fnmatch_line("*Traceback*")


def test_the_topology_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
import pytest


@pytest.fixture(scope="session")
def testbed_topology():
    return {"name": "tiny", "hosts": [{"name": "only-host", "availability_zone": "zone-x"}],
            "flavors": [{"id": "1", "name": "small", "vcpus": 1, "ram": 256, "disk": 1}]}
""")
    pytester.makepyfile(
        test_topo="""
def test_one_host(testbed_conn):
    hosts = [s.host for s in testbed_conn.compute.services() if s.binary == "nova-compute"]
    assert hosts == ["only-host"]
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore")
    result.assert_outcomes(passed=1)


def test_options_and_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*nova-testbed*", "*--testbed-backend*", "*--testbed-scope*"])
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(
        ["*testbed_capability(name)*", "*testbed_id(uuid)*", "*testbed_requires(*features)*"]
    )


def test_results_carry_the_trace_for_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_other=OTHER_PROJECTS_TESTS)
    out = pytester.path / "results.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore", f"--testbed-results={out}"
    )
    result.assert_outcomes(passed=3, skipped=1)
    run = json.loads(out.read_text())["runs"][0]
    tests = {t["name"]: t for t in run["tests"]}
    boot = tests["test_boots_a_server"]
    assert boot["outcome"] == "passed"
    assert any(e["kind"] == "rpc.cast" and e["name"] == "build_instances" for e in boot["trace"])
    assert any(e["kind"] == "state" for e in boot["trace"])
    timed = tests["test_time_moves_only_when_asked"]
    assert (timed["capability"], timed["test_id"]) == (
        "lifecycle",
        "0f6f0a3e-6a43-4f7e-9d55-3f4f1c3f1a01",
    )
    assert tests["test_skipped_when_the_cloud_lacks_a_feature"]["outcome"] == "skipped"


def test_an_unknown_backend_is_refused_with_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_other=OTHER_PROJECTS_TESTS)
    result = pytester.runpytest_subprocess("--testbed-backend", "nope")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*invalid choice*nope*"])
