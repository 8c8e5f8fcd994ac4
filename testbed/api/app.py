"""The compute API (Nova v2.1 REST), mounted at /compute by the cloud's WSGI app.

``build_app`` gathers the route tables of the resource modules on one
:class:`testbed.web.app.JsonApp` with Nova's fault format, and authenticates every request
through the identity service (or the ``authenticate`` callable given, e.g. in tests).
"""

from __future__ import annotations

from testbed.api import (
    availability_zones,
    flavors,
    hypervisors,
    instance_actions,
    limits,
    migration_actions,  # registers resize/migrate/live-migration actions
    migrations,
    quota_sets,
    server_actions,
    server_groups,
    server_metadata,
    servers,
    services,
    versions,
    volume_attachments,
)
from testbed.service import Runtime
from testbed.web.app import Authenticator, JsonApp, nova_fault

__all__ = ["build_app"]

_MODULES = (
    versions,
    servers,
    server_actions,
    server_metadata,
    flavors,
    hypervisors,
    services,
    availability_zones,
    server_groups,
    migrations,
    migration_actions,
    instance_actions,
    limits,
    quota_sets,
    volume_attachments,
)


def build_app(runtime: Runtime, *, authenticate: Authenticator | None = None) -> JsonApp:
    """The compute API app; ``authenticate`` defaults to the identity service's check."""
    if authenticate is None:
        from testbed.identity.auth import authenticate as identity_authenticate

        authenticate = identity_authenticate
    app = JsonApp(runtime, lifeline="api", render_fault=nova_fault, authenticate=authenticate)
    for module in _MODULES:
        module.routes.register(app)
    return app
