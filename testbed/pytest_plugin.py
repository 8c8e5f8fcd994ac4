"""The pytest plugin: a test-bed cloud as fixtures, for this project and any other.

Registered through the ``pytest11`` entry point and import-light (nothing heavy is
imported until a fixture is used).  Options (group "testbed"):

    --testbed-backend fake|qemu|external   where the cloud comes from (default fake)
    --testbed-cloud NAME                   clouds.yaml cloud, for the external backend
    --testbed-topology NAME|PATH           fixtures/NAME.yaml or a path (embedded backends)
    --testbed-scope session|module|function    lifetime of testbed_cloud (default session)
    --testbed-results PATH                 write per-test results and traces (JSON)

Fixtures: ``testbed_topology``, ``testbed_cloud``, ``testbed_conn`` (admin openstacksdk
Connection), ``testbed_demo_conn`` (a member), ``testbed_control`` (clock, settle,
periodic tasks, faults, trace).  Markers: ``testbed_capability(name)``,
``testbed_id(uuid)``, ``testbed_requires(*features)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from testbed.control.client import ControlClient
    from testbed.pytest_support import CloudHandle

MARKERS = (
    "testbed_capability(name): the conformance capability a test belongs to "
    "(lifecycle, resize, live-migration-block, ...)",
    "testbed_id(uuid): the test's stable id, kept forever (like Tempest's idempotent_id)",
    "testbed_requires(*features): skip unless the cloud offers every feature "
    "('control': the test-bed control API; 'backend:fake' ...)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "nova-testbed: an emulated OpenStack compute cloud")
    group.addoption(
        "--testbed-backend",
        choices=("fake", "qemu", "external"),
        default=None,
        help="where the cloud comes from (default: ini testbed_backend or fake)",
    )
    group.addoption(
        "--testbed-cloud", default=None, help="clouds.yaml cloud name for the external backend"
    )
    group.addoption(
        "--testbed-topology",
        default=None,
        help="topology for embedded clouds: fixtures/NAME.yaml or a path",
    )
    group.addoption(
        "--testbed-scope",
        choices=("session", "module", "function"),
        default=None,
        help="lifetime of the testbed_cloud fixture",
    )
    group.addoption(
        "--testbed-results",
        default=None,
        help="write per-test results with traces to this JSON file",
    )
    parser.addini("testbed_backend", "default backend (fake, qemu, external)", default="fake")
    parser.addini("testbed_scope", "default scope of testbed_cloud", default="session")


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if config.getoption("--testbed-results"):
        from testbed.pytest_support import ResultsRecorder

        config.pluginmanager.register(ResultsRecorder(config), "testbed-results")


def _scope(fixture_name: str, config: pytest.Config) -> Any:
    return config.getoption("--testbed-scope") or config.getini("testbed_scope")


def _option(config: pytest.Config, name: str) -> Any:
    return config.getoption(f"--testbed-{name}") or config.getini(f"testbed_{name}")


@pytest.fixture(scope="session")
def testbed_topology() -> str | dict[str, Any]:
    """The topology of embedded clouds; override it to use your own fixtures/*.yaml
    (return a name, a path or a mapping).  --testbed-topology wins over the default."""
    return "default"


@pytest.fixture(scope=_scope)
def testbed_cloud(request: pytest.FixtureRequest) -> Iterator[CloudHandle]:
    """A running cloud: embedded (fake or qemu backend, one per xdist worker) or external."""
    from testbed.pytest_support import open_cloud

    config = request.config
    topology = config.getoption("--testbed-topology") or request.getfixturevalue("testbed_topology")
    with open_cloud(
        backend=_option(config, "backend"),
        topology=topology,
        cloud_name=config.getoption("--testbed-cloud"),
    ) as handle:
        yield handle


@pytest.fixture
def testbed_conn(testbed_cloud: CloudHandle) -> Any:
    """An openstacksdk Connection as the cloud's admin."""
    return testbed_cloud.admin_conn


@pytest.fixture
def testbed_demo_conn(testbed_cloud: CloudHandle) -> Any:
    """An openstacksdk Connection as a member of the demo project."""
    return testbed_cloud.demo_conn


@pytest.fixture
def testbed_control(testbed_cloud: CloudHandle) -> ControlClient:
    """The control API: clock, settle, periodic tasks, faults, trace.  Tests using it are
    skipped (with the reason) on clouds that have none."""
    if testbed_cloud.control is None:
        pytest.skip(f"the {testbed_cloud.backend} cloud has no test-bed control API")
    return testbed_cloud.control


@pytest.fixture(autouse=True)
def _testbed_requirements(request: pytest.FixtureRequest) -> None:
    """Skip tests whose ``testbed_requires`` features the cloud lacks."""
    wanted = [f for m in request.node.iter_markers("testbed_requires") for f in m.args]
    if not wanted:
        return
    handle: CloudHandle = request.getfixturevalue("testbed_cloud")
    missing = [f for f in dict.fromkeys(wanted) if not handle.offers(f)]
    if missing:
        pytest.skip(f"the {handle.backend} cloud does not offer {', '.join(missing)}")
