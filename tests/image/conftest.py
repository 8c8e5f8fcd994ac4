"""Fixtures of the image service's tests: a runtime with the service on the bus and HTTP
clients of its API (mounted at /image, as in the cloud; see tests/service_api.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.image.api import build_app
from testbed.image.service import ImageService
from testbed.service import Runtime
from tests.service_api import client_fixtures


@pytest.fixture
def image_service(runtime: Runtime) -> Iterator[ImageService]:
    service = ImageService(runtime)
    service.start()
    yield service
    service.stop()


alice, bob, admin, make_session = client_fixtures("image", build_app, "image_service")
