"""Token expiry as keystoneauth1 lives it.

keystoneauth compares a token's ``expires_at`` with the *real* time to decide when to
re-authenticate; this module runs the cloud on a simulated clock started at the real
time, so the two agree at first.  Then: keystoneauth keeps one token while it is valid;
once the simulated clock passes ``token_expiration`` the cloud answers 401 to the old
token and keystoneauth re-authenticates and retries on its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import generic

from testbed.bus.memory import MemoryBus
from testbed.clock import SimClock
from testbed.config import Config
from testbed.identity.seed import seed_identity
from testbed.identity.service import IdentityService
from testbed.service import Runtime
from testbed.store.db import Store
from testbed.trace import Tracer
from testbed.web.transport import WSGIAdapter

from .helpers import BASE, IDENTITY

WHOAMI = f"{BASE}/compute/v2.1/whoami"


@pytest.fixture
def rt() -> Iterator[Runtime]:
    """As the shared fixture, but on a simulated clock that starts at the real time."""
    config = Config()
    clock = SimClock(start=float(int(time.time())))
    tracer = Tracer(clock.now)
    store = Store(config.database_url, now=clock.now, tracer=tracer)
    store.create_schema()
    bus = MemoryBus(clock, tracer, default_timeout=config.rpc_response_timeout)
    runtime = Runtime(config=config, clock=clock, bus=bus, store=store, tracer=tracer)
    service = IdentityService(runtime)
    service.start()
    seed_identity(runtime, {})
    yield runtime
    service.stop()
    clock.close()
    store.close()


class _Recording(WSGIAdapter):
    """Remembers each request's method, path and status."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.log: list[tuple[str, str, int]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().send(request, **kwargs)
        path = (request.url or "").removeprefix(BASE)
        self.log.append((request.method or "", path, response.status_code))
        return response


def test_keystoneauth_keeps_its_token_then_reauthenticates_after_expiry(
    cloud: Any, rt: Runtime
) -> None:
    wire = _Recording(cloud)
    session = ks_session.Session(
        auth=generic.Password(
            auth_url=IDENTITY,
            username="demo",
            password="demo",
            project_name="demo",
            user_domain_id="default",
            project_domain_id="default",
        )
    )
    session.session.mount(BASE, wire)
    first = session.get_token()
    for _ in range(3):
        assert session.get(WHOAMI).status_code == 200
    issued = [entry for entry in wire.log if entry[0] == "POST"]
    assert len(issued) == 1  # one token, reused

    rt.clock.advance(rt.config.token_expiration)
    wire.log.clear()
    assert session.get(WHOAMI).json()["user_name"] == "demo"
    assert [entry[2] for entry in wire.log] == [401, 201, 200]  # refused, re-auth, retried
    assert session.get_token() != first
