"""Fixtures shared by the image, network and volume API tests: the service on the bus and
HTTP clients of its API, mounted at its prefix as in the cloud, with a test-only login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from testbed.context import RequestContext
from testbed.service import Runtime
from testbed.web.transport import WSGIAdapter

ROOT = "http://testbed.local"
SessionFactory = Callable[..., requests.Session]
AppBuilder = Callable[..., Any]


def header_auth(request: Request, _runtime: Runtime) -> RequestContext | None:
    """Test-only authentication: ``X-Project-Id`` / ``X-Roles`` headers name the caller."""
    project = request.headers.get("X-Project-Id")
    if project is None:
        return None
    roles = tuple(r for r in request.headers.get("X-Roles", "member").split(",") if r)
    return RequestContext(user_id=f"user-{project}", project_id=project, roles=roles)


def _nothing(environ: dict[str, object], start_response: object) -> object:
    return Response("no such service", status=404)(environ, start_response)  # type: ignore[arg-type]


def session_for(
    runtime: Runtime,
    prefix: str,
    build_app: AppBuilder,
    project: str | None,
    roles: str = "member",
) -> requests.Session:
    """A requests session talking to the API at ``/<prefix>`` in-process as ``project``."""
    app = DispatcherMiddleware(
        _nothing, {f"/{prefix}": build_app(runtime, authenticate=header_auth)}
    )
    session = requests.Session()
    session.mount(ROOT, WSGIAdapter(app))
    if project is not None:
        session.headers["X-Project-Id"] = project
        session.headers["X-Roles"] = roles
    return session


def client_fixtures(prefix: str, build_app: AppBuilder, service_fixture: str) -> tuple[Any, ...]:
    """The ``alice``, ``bob`` (members of p-alice, p-bob), ``admin`` and ``make_session``
    fixtures of a service's API tests; each starts the service through ``service_fixture``."""

    def factory(request: pytest.FixtureRequest, runtime: Runtime) -> SessionFactory:
        request.getfixturevalue(service_fixture)
        return lambda project, roles="member": session_for(
            runtime, prefix, build_app, project, roles
        )

    @pytest.fixture(name="make_session")
    def make_session(request: pytest.FixtureRequest, runtime: Runtime) -> SessionFactory:
        """``make_session(project_or_None, roles="member")``: a client of the API."""
        return factory(request, runtime)

    @pytest.fixture(name="alice")
    def alice(request: pytest.FixtureRequest, runtime: Runtime) -> requests.Session:
        """A member of project ``p-alice``."""
        return factory(request, runtime)("p-alice")

    @pytest.fixture(name="bob")
    def bob(request: pytest.FixtureRequest, runtime: Runtime) -> requests.Session:
        """A member of project ``p-bob``."""
        return factory(request, runtime)("p-bob")

    @pytest.fixture(name="admin")
    def admin(request: pytest.FixtureRequest, runtime: Runtime) -> requests.Session:
        """An admin of project ``p-admin``."""
        return factory(request, runtime)("p-admin", "admin,member")

    return alice, bob, admin, make_session
