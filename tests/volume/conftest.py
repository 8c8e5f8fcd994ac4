"""Fixtures of the volume service's tests: a runtime with the service on the bus and HTTP
clients of its API (mounted at /volume, as in the cloud; see tests/service_api.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.service import Runtime
from testbed.volume.api import build_app
from testbed.volume.service import VolumeService
from tests.service_api import client_fixtures


@pytest.fixture
def volume_service(runtime: Runtime) -> Iterator[VolumeService]:
    service = VolumeService(runtime)
    service.start()
    yield service
    service.stop()


alice, bob, admin, make_session = client_fixtures("volume", build_app, "volume_service")
