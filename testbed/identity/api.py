"""The identity HTTP API (Keystone v3 subset), mounted at ``/identity``.

Routes: version documents (``/`` and ``/v3``), tokens (:mod:`.api_tokens`), domains,
projects, users and roles (:mod:`.api_resources`), grants and role assignments
(:mod:`.api_assignments`).  Errors use Keystone's body
``{"error": {"code", "title", "message"}}``.  The API calls the identity managers in
process (Keystone's API *is* the identity service); other APIs validate tokens over the
bus through :func:`testbed.identity.auth.authenticate`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from werkzeug.wrappers import Request, Response

from testbed.context import RequestContext
from testbed.exceptions import Unauthorized
from testbed.identity.api_assignments import register as register_assignments
from testbed.identity.api_resources import register as register_resources
from testbed.identity.api_tokens import register as register_tokens
from testbed.identity.auth import AUTH_TOKEN_HEADER, context_from_token
from testbed.identity.manager import IdentityManager, token_summary
from testbed.identity.views import Urls
from testbed.service import Runtime
from testbed.web.app import ApiRequest, Authenticator, JsonApp, json_response

__all__ = ["VERSION_ID", "build_app", "keystone_fault", "version_v3"]

VERSION_ID = "v3.14"
_UPDATED = "2020-04-07T00:00:00Z"
_MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def keystone_fault(code: int, message: str) -> dict[str, Any]:
    """Keystone's error body: ``{"error": {"code": 401, "title": "Unauthorized", ...}}``."""
    try:
        title = HTTPStatus(code).phrase
    except ValueError:
        title = "Error"
    return {"error": {"code": code, "title": title, "message": message}}


def version_v3(identity_url: str) -> dict[str, Any]:
    """The v3 version entry keystoneauth discovers."""
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": _UPDATED,
        "links": [{"rel": "self", "href": f"{identity_url}/v3/"}],
        "media-types": [{"base": "application/json", "type": _MEDIA_TYPE}],
    }


def build_app(runtime: Runtime) -> JsonApp:
    """The identity API as a WSGI app (paths without the ``/identity`` prefix)."""
    manager = IdentityManager(runtime)
    app = JsonApp(
        runtime,
        lifeline="identity",
        render_fault=keystone_fault,
        authenticate=_local_authenticator(manager),
    )

    @app.route("/", ["GET"], public=True)
    def versions(req: ApiRequest) -> Response:
        body = {"versions": {"values": [version_v3(Urls.of(req.http).identity)]}}
        return json_response(300, body)

    @app.route("/v3", ["GET"], public=True)
    def version(req: ApiRequest) -> tuple[int, Any]:
        return 200, {"version": version_v3(Urls.of(req.http).identity)}

    register_tokens(app, manager)
    register_resources(app, manager)
    register_assignments(app, manager)
    app.after_request(_keystone_headers)
    return app


def _local_authenticator(manager: IdentityManager) -> Authenticator:
    """Keystone validates its callers' tokens itself; a bad token leaves the caller
    anonymous (public routes still answer; the others say 401)."""

    def authenticate(request: Request, _runtime: Runtime) -> RequestContext | None:
        token = request.headers.get(AUTH_TOKEN_HEADER)
        if not token:
            return None
        try:
            data = manager.tokens.validate(token)
        except Unauthorized:
            return None
        return context_from_token(token_summary(data), token)

    return authenticate


def _keystone_headers(req: ApiRequest, response: Response) -> None:
    response.headers["Vary"] = AUTH_TOKEN_HEADER
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = f'Keystone uri="{Urls.of(req.http).identity}"'
