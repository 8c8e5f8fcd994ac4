"""The control API at ``/testbed/v1`` (admin only): what a test needs beside the public
APIs, the way moto keeps ``/moto-api``.

    GET    /v1                       the cloud: backend, topology, clock, services
    POST   /v1/reset                 throw all state away; {"topology": name|mapping}
    GET    /v1/clock                 {"now", "mode"}
    PUT    /v1/clock                 {"mode": "auto"|"manual"}
    POST   /v1/clock/advance         {"seconds": N}: let N clock seconds pass
    POST   /v1/settle                wait until nothing is in flight
    POST   /v1/periodic-tasks        {"task": name?, "host": name?}: run periodic tasks now
    GET    /v1/faults                faults in force (hypervisor and bus)
    POST   /v1/faults                {"target": "hypervisor"|"bus"|"host", ...}: inject one
    DELETE /v1/faults[/<id>]         clear one or all
    GET    /v1/trace                 ?request_id=R | ?server=UUID | ?since=SEQ
    GET    /v1/invariants            what must hold in a settled cloud, and what does not
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from testbed.clock import ClockError
from testbed.control.faults import FaultBoard
from testbed.exceptions import BadRequest, Forbidden, NotFound
from testbed.service import Runtime
from testbed.web.app import ApiRequest, JsonApp

if TYPE_CHECKING:
    from testbed.cloud import Cloud

__all__ = ["build_app"]


def _control_fault(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _admin(req: ApiRequest) -> None:
    if not req.ctx.is_admin:
        raise Forbidden("The control API is for admins only.")


def _number(body: Any, key: str) -> float:
    if not isinstance(body, dict) or key not in body:
        raise BadRequest(f"'{key}' is required")
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequest(f"'{key}' must be a non-negative number, not {value!r}")
    return float(value)


def build_app(runtime: Runtime, cloud: Cloud) -> JsonApp:
    """The control API of ``cloud`` (it follows the cloud across resets)."""
    from testbed.identity.auth import authenticate

    app = JsonApp(
        runtime,
        lifeline="control",
        render_fault=_control_fault,
        authenticate=authenticate,
        errors={ClockError: 409},
    )
    board = FaultBoard(cloud)

    def rt() -> Runtime:
        return cloud.runtime

    @app.route("/v1", ["GET"])
    def show(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        return 200, {
            "cloud": {
                "backend": cloud.backend_name,
                "topology": cloud.topology.name,
                "hosts": [h.to_dict() for h in cloud.topology.hosts],
                "compute_services_running": sorted(cloud.compute),
                "clock": {"now": rt().clock.now(), "mode": rt().clock.mode},
                "config": rt().config.to_dict(),
            }
        }

    @app.route("/v1/reset", ["POST"])
    def reset(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        from testbed.topology import TopologyError, load_topology

        body = req.json(required=False) or {}
        topology = None
        if body.get("topology") is not None:
            try:
                topology = load_topology(body["topology"])
            except TopologyError as exc:
                raise BadRequest(str(exc)) from exc
        with rt().clock.released():
            cloud.reset(topology)
        return 200, {"reset": True, "topology": cloud.topology.name}

    @app.route("/v1/clock", ["GET"])
    def clock(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        return 200, {"clock": {"now": rt().clock.now(), "mode": rt().clock.mode}}

    @app.route("/v1/clock", ["PUT"])
    def set_mode(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        body = req.json()
        mode = body.get("mode") if isinstance(body, dict) else None
        if mode not in ("auto", "manual"):
            raise BadRequest("'mode' must be 'auto' or 'manual'")
        rt().clock.set_mode(mode)
        return 200, {"clock": {"now": rt().clock.now(), "mode": mode}}

    @app.route("/v1/clock/advance", ["POST"])
    def advance(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        seconds = _number(req.json(), "seconds")
        with rt().clock.released():
            rt().clock.advance(seconds)
        return 200, {"clock": {"now": rt().clock.now(), "mode": rt().clock.mode}}

    @app.route("/v1/settle", ["POST"])
    def settle(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        body = req.json(required=False) or {}
        timeout = _number(body, "timeout") if "timeout" in body else 60.0
        with rt().clock.released():
            rt().clock.settle(timeout)
        return 200, {"settled": True, "now": rt().clock.now()}

    @app.route("/v1/periodic-tasks", ["POST"])
    def periodic(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        body = req.json(required=False) or {}
        task, host = body.get("task"), body.get("host")
        services = cloud.services_for(host)
        ran: list[str] = []
        with rt().clock.released():
            for service in services:
                ran += service.run_periodic_tasks(task)
            rt().clock.settle()
        if task and not ran:
            raise NotFound(f"No periodic task named {task!r} on {host or 'any service'}.")
        return 200, {"ran": ran}

    @app.route("/v1/faults", ["GET"])
    def list_faults(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        return 200, {"faults": board.list(), "kinds": board.kinds()}

    @app.route("/v1/faults", ["POST"])
    def inject(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        body = req.json()
        if not isinstance(body, dict):
            raise BadRequest("a fault is a JSON object")
        with rt().clock.released():
            fault = board.inject(body)
        return 201, {"fault": fault}

    @app.route("/v1/faults", ["DELETE"])
    def clear_all(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        with rt().clock.released():
            board.clear()
        return 204, None

    @app.route("/v1/faults/<fault_id>", ["DELETE"])
    def clear_one(req: ApiRequest, fault_id: str) -> tuple[int, Any]:
        _admin(req)
        with rt().clock.released():
            board.clear(fault_id)
        return 204, None

    @app.route("/v1/invariants", ["GET"])
    def invariants(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        from testbed.invariants import check_invariants

        with rt().clock.released():
            rt().clock.settle()
        return 200, {"violations": check_invariants(rt())}

    @app.route("/v1/trace", ["GET"])
    def trace(req: ApiRequest) -> tuple[int, Any]:
        _admin(req)
        tracer = rt().tracer
        if req.query.get("request_id"):
            events = tracer.for_request(req.query["request_id"])
        elif req.query.get("server"):
            events = tracer.for_instance(req.query["server"])
        else:
            try:
                since = int(req.query.get("since", "0"))
            except ValueError as exc:
                raise BadRequest("'since' must be an integer sequence number") from exc
            events = tracer.since(since)
        return 200, {"events": events, "last_seq": tracer.last_seq()}

    from testbed.ha.control import register_routes as register_ha_routes

    register_ha_routes(app, cloud)  # /v1/ha: the HA engine (testbed/ha/control.py)
    return app
