"""A small JSON application on Werkzeug, shared by every service's HTTP API.

Each API (identity, compute, image, network, volume, control) is a :class:`JsonApp`:
routes to handlers, a fault renderer in the API's own error format, and authentication
through the identity service.  A handler receives an :class:`ApiRequest` and returns
``(status, body)`` or a Werkzeug ``Response``; it raises
:class:`testbed.exceptions.CloudError` subclasses for every client mistake, which the
app renders with the right status in the API's own format.  Unexpected exceptions are
logged and rendered as 500 — a client's mistake must never end there.

Every request holds an activity unit of the clock while it is served, runs in the app's
service scope with its request context, and leaves ``http`` events in the trace.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from testbed.context import RequestContext, service_scope
from testbed.exceptions import BadRequest, CloudError
from testbed.service import Runtime

__all__ = ["ApiRequest", "FaultRenderer", "JsonApp", "json_response", "nova_fault"]

LOG = logging.getLogger(__name__)

FaultRenderer = Callable[[int, str], Any]
Handler = Callable[..., Any]

_NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def nova_fault(code: int, message: str) -> dict[str, Any]:
    """Nova's fault body: ``{"badRequest": {"code": 400, "message": "..."}}``."""
    name = _NOVA_FAULT_NAMES.get(code, "computeFault")
    return {name: {"code": code, "message": message}}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (an empty body for None)."""
    data = b"" if body is None else json.dumps(body).encode()
    resp = Response(data, status=status, headers=headers or {})
    if body is not None:
        resp.content_type = "application/json"
    return resp


@dataclass
class ApiRequest:
    """What a handler sees: the Werkzeug request, the caller's context, parsed JSON."""

    http: Request
    ctx: RequestContext
    runtime: Runtime
    app: JsonApp
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> Any:
        """Query-string arguments (a MultiDict)."""
        return self.http.args

    def header(self, name: str) -> str | None:
        """A request header, or None."""
        return self.http.headers.get(name)

    def json(self, *, required: bool = True) -> Any:
        """The parsed JSON body; malformed JSON is a 400 with a clear message."""
        raw = self.http.get_data(cache=True)
        if not raw:
            if required:
                raise BadRequest("The request body is empty; a JSON body is required.")
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"Malformed request body: {exc}") from exc

    def body_of(self, key: str) -> dict[str, Any]:
        """``json()[key]`` as a dict, with Nova-style errors when missing or mistyped."""
        body = self.json()
        if not isinstance(body, dict) or key not in body:
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: missing")
        value = body[key]
        if not isinstance(value, dict):
            raise BadRequest(
                f"Invalid input for field/attribute {key}. Value: {value!r}. "
                f"{value!r} is not of type 'object'"
            )
        return value


Authenticator = Callable[[Request, Runtime], RequestContext | None]


class JsonApp:
    """A WSGI app: routes, authentication, faults in the API's own format, tracing.

    ``lifeline`` is the service name in the trace; ``render_fault`` turns (status,
    message) into the API's error body; ``authenticate`` returns the caller's context,
    or None for a route marked ``public``.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        lifeline: str,
        render_fault: FaultRenderer = nova_fault,
        authenticate: Authenticator | None = None,
        errors: dict[type[Exception], int] | None = None,
    ) -> None:
        self.runtime = runtime
        self._errors = tuple((errors or {}).items())
        self.lifeline = lifeline
        self.render_fault = render_fault
        self._authenticate = authenticate
        self._map = Map(strict_slashes=False, merge_slashes=True)
        self._handlers: dict[str, tuple[Handler, bool]] = {}
        self._hooks: list[Callable[[ApiRequest, Response], None]] = []

    def route(
        self, rule: str, methods: Iterable[str], *, public: bool = False
    ) -> Callable[[Handler], Handler]:
        """Register a handler: ``@app.route("/servers/<id>", ["GET"])``."""

        def register(fn: Handler) -> Handler:
            endpoint = f"{fn.__module__}.{fn.__qualname__}:{rule}"
            self._map.add(Rule(rule, methods=list(methods), endpoint=endpoint))
            self._handlers[endpoint] = (fn, public)
            return fn

        return register

    def after_request(self, hook: Callable[[ApiRequest, Response], None]) -> None:
        """Run ``hook`` on every response (e.g. to add version headers)."""
        self._hooks.append(hook)

    def error(self, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """A fault response in this API's format."""
        return json_response(code, self.render_fault(code, message), headers)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self.runtime.clock.activity():
            response = self._serve(request)
        return response(environ, start_response)

    def _serve(self, request: Request) -> Response:
        started = time.perf_counter()
        incoming_id = request.headers.get("X-OpenStack-Request-ID")
        ctx = RequestContext(global_request_id=incoming_id)
        event = self.runtime.tracer.record(
            "http",
            request_id=ctx.request_id,
            source="client",
            target=self.lifeline,
            name=f"{request.method} {request.path}",
        )
        api_req: ApiRequest | None = None
        try:
            adapter = self._map.bind_to_environ(request.environ)
            endpoint, args = adapter.match()
            handler, public = self._handlers[endpoint]
            if self._authenticate is not None:
                # In the app's scope, so the token check is traced from this lifeline
                # and under this request's id.
                with service_scope(self.lifeline, ctx):
                    authed = self._authenticate(request, self.runtime)
                if authed is None and not public:
                    raise _unauthorized()
                if authed is not None:
                    ctx = dataclasses.replace(
                        authed, request_id=ctx.request_id, global_request_id=incoming_id
                    )
            api_req = ApiRequest(request, ctx, self.runtime, self)
            with service_scope(self.lifeline, ctx):
                result = handler(api_req, **args)
            response = result if isinstance(result, Response) else json_response(*result)
        except CloudError as exc:
            response = self.error(exc.code, exc.message, getattr(exc, "headers", None))
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or ())
            response = self.error(405, f"The method is not allowed for this URL ({allowed}).")
        except NotFound:
            response = self.error(404, f"The resource could not be found: {request.path}")
        except HTTPException as exc:
            response = self.error(exc.code or 400, exc.description or exc.name)
        except Exception as exc:
            mapped = next((code for kind, code in self._errors if isinstance(exc, kind)), None)
            if mapped is not None:
                response = self.error(mapped, str(exc))
            else:
                LOG.exception("unexpected error serving %s %s", request.method, request.path)
                response = self.error(
                    500,
                    "Unexpected API Error. Please report this at "
                    "the nova-testbed issue tracker and attach the trace.",
                )
        response.headers["X-OpenStack-Request-ID"] = ctx.request_id
        if api_req is not None:
            for key, value in api_req.response_headers.items():
                response.headers[key] = value
            for hook in self._hooks:
                hook(api_req, response)
        if event is not None:
            event["detail"]["status"] = response.status_code
            event["duration"] = time.perf_counter() - started
        return response


def _unauthorized() -> CloudError:
    from testbed.exceptions import Unauthorized

    return Unauthorized("The request you have made requires authentication.")
