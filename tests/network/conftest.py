"""Fixtures of the network service's tests: a runtime with the service on the bus and HTTP
clients of its API (mounted at /network, as in the cloud; see tests/service_api.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.network.api import build_app
from testbed.network.service import NetworkService
from testbed.service import Runtime
from tests.service_api import client_fixtures


@pytest.fixture
def network_service(runtime: Runtime) -> Iterator[NetworkService]:
    service = NetworkService(runtime)
    service.start()
    yield service
    service.stop()


alice, bob, admin, make_session = client_fixtures("network", build_app, "network_service")
