"""Fixtures of the volume service's tests: a runtime with the service on the bus and an
HTTP client on its API (mounted at /volume, as in the cloud)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from testbed.context import RequestContext
from testbed.service import Runtime
from testbed.volume.api import build_app
from testbed.volume.service import VolumeService
from testbed.web.transport import WSGIAdapter

BASE = "http://testbed.local/volume"


def header_auth(request: Request, _runtime: Runtime) -> RequestContext | None:
    """Test-only authentication: ``X-Project-Id`` / ``X-Roles`` headers name the caller."""
    project = request.headers.get("X-Project-Id")
    if project is None:
        return None
    roles = tuple(r for r in request.headers.get("X-Roles", "member").split(",") if r)
    return RequestContext(user_id=f"user-{project}", project_id=project, roles=roles)


def _nothing(environ: dict[str, object], start_response: object) -> object:
    return Response("no such service", status=404)(environ, start_response)  # type: ignore[arg-type]


@pytest.fixture
def volume_service(runtime: Runtime) -> Iterator[VolumeService]:
    service = VolumeService(runtime)
    service.start()
    yield service
    service.stop()


SessionFactory = Callable[..., requests.Session]


def session_for(runtime: Runtime, project: str | None, roles: str = "member") -> requests.Session:
    """A requests session talking to the volume API in-process as ``project``."""
    app = DispatcherMiddleware(_nothing, {"/volume": build_app(runtime, authenticate=header_auth)})
    session = requests.Session()
    session.mount("http://testbed.local", WSGIAdapter(app))
    if project is not None:
        session.headers["X-Project-Id"] = project
        session.headers["X-Roles"] = roles
    return session


@pytest.fixture
def alice(runtime: Runtime, volume_service: VolumeService) -> requests.Session:
    """A member of project ``p-alice``."""
    return session_for(runtime, "p-alice")


@pytest.fixture
def bob(runtime: Runtime, volume_service: VolumeService) -> requests.Session:
    """A member of project ``p-bob``."""
    return session_for(runtime, "p-bob")


@pytest.fixture
def admin(runtime: Runtime, volume_service: VolumeService) -> requests.Session:
    """An admin of project ``p-admin``."""
    return session_for(runtime, "p-admin", "admin,member")


@pytest.fixture
def make_session(runtime: Runtime, volume_service: VolumeService) -> SessionFactory:
    """``make_session(project_or_None, roles="member")``: a client of the volume API."""
    return lambda project, roles="member": session_for(runtime, project, roles)
