"""The HA engine on the control API (admin only):

GET  /testbed/v1/ha          {"ha": settings, "notifications": [...]}, newest first
PUT  /testbed/v1/ha          {"enabled"?, "recovery_method"?, "reserved_hosts"?}
POST /testbed/v1/ha/check    run the engine's check now and wait until it settles
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from testbed.exceptions import BadRequest, Forbidden, NotFound
from testbed.ha.engine import METHODS, HAEngine
from testbed.web.app import ApiRequest, JsonApp

if TYPE_CHECKING:
    from testbed.cloud import Cloud

__all__ = ["register_routes"]


def _engine(cloud: Cloud) -> HAEngine:
    conductor = cloud.services.get("conductor")
    engine = getattr(conductor, "ha_engine", None)
    if not isinstance(engine, HAEngine):
        raise NotFound("This cloud runs no HA engine.")
    return engine


def _admin(req: ApiRequest) -> None:
    if not req.ctx.is_admin:
        raise Forbidden("The control API is for admins only.")


def register_routes(app: JsonApp, cloud: Cloud) -> None:
    """Add the HA routes to the control API app of ``cloud``."""

    @app.route("/v1/ha", ["GET"])
    def show(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        engine = _engine(cloud)
        return 200, {"ha": engine.settings.to_dict(), "notifications": engine.notifications()}

    @app.route("/v1/ha", ["PUT"])
    def update(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        body = req.json()
        if not isinstance(body, dict) or set(body) - {
            "enabled",
            "recovery_method",
            "reserved_hosts",
        }:
            raise BadRequest("allowed keys: enabled, recovery_method, reserved_hosts")
        settings = _engine(cloud).settings
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                raise BadRequest("'enabled' must be true or false")
            settings.enabled = body["enabled"]
        if "recovery_method" in body:
            if body["recovery_method"] not in METHODS:
                raise BadRequest(f"'recovery_method' must be one of {', '.join(METHODS)}")
            settings.recovery_method = body["recovery_method"]
        if "reserved_hosts" in body:
            hosts = body["reserved_hosts"]
            if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
                raise BadRequest("'reserved_hosts' must be a list of host names")
            settings.reserved_hosts = list(hosts)
        return 200, {"ha": settings.to_dict()}

    @app.route("/v1/ha/check", ["POST"])
    def check(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        engine = _engine(cloud)
        runtime = cloud.runtime
        with runtime.clock.released():
            engine.ha_check()
            runtime.clock.settle()
        return 200, {"notifications": engine.notifications()}
