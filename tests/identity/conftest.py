"""Fixtures: a runtime with the identity service, its API mounted at ``/identity`` of a
small cloud app, and HTTP clients that reach it in-process.

Besides identity, the cloud app mounts a stand-in API at ``/compute`` (a plain
:class:`JsonApp` authenticated by :func:`testbed.identity.auth.authenticate`), so the
token check other APIs do goes through the bus exactly as in the assembled cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from testbed.identity.api import build_app
from testbed.identity.auth import authenticate
from testbed.identity.seed import seed_identity
from testbed.identity.service import IdentityService
from testbed.runtime import build_runtime
from testbed.service import Runtime
from testbed.web.app import ApiRequest, JsonApp
from testbed.web.transport import WSGIAdapter

from .helpers import BASE, issue

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    return Response("no such service", status=404)(environ, start_response)


def _stand_in_compute(runtime: Runtime) -> JsonApp:
    """An API like the others of the cloud: authenticates through identity over the bus."""
    app = JsonApp(runtime, lifeline="api", authenticate=authenticate)

    @app.route("/v2.1/whoami", ["GET"])
    def whoami(req: ApiRequest) -> tuple[int, Any]:
        ctx = req.ctx
        return 200, {
            "user_id": ctx.user_id,
            "user_name": ctx.user_name,
            "project_id": ctx.project_id,
            "project_name": ctx.project_name,
            "roles": list(ctx.roles),
            "request_id": ctx.request_id,
        }

    return app


@pytest.fixture
def rt() -> Iterator[Runtime]:
    """A runtime with the identity service started and the default data seeded."""
    runtime = build_runtime(clock_start=1_767_225_600.0)
    service = IdentityService(runtime)
    service.start()
    seed_identity(runtime, {})
    yield runtime
    service.stop()
    runtime.clock.close()
    runtime.store.close()


@pytest.fixture
def cloud(rt: Runtime) -> WSGIApp:
    """The WSGI app of a cloud with identity at /identity and a stand-in API at /compute."""
    return DispatcherMiddleware(
        _not_found, {"/identity": build_app(rt), "/compute": _stand_in_compute(rt)}
    )


@pytest.fixture
def http(cloud: WSGIApp) -> Iterator[requests.Session]:
    """A requests session whose requests to ``http://testbed.local`` reach the cloud."""
    session = requests.Session()
    session.mount(BASE, WSGIAdapter(cloud))
    yield session
    session.close()


@pytest.fixture
def admin_token(http: requests.Session) -> str:
    """A token of ``admin`` on project ``admin``."""
    return issue(http, "admin", "admin", "admin")


@pytest.fixture
def demo_token(http: requests.Session) -> str:
    """A token of ``demo`` on project ``demo``."""
    return issue(http, "demo", "demo", "demo")
