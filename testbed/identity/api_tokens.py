"""``/v3/auth/…``: issue, validate, check and revoke tokens; the caller's projects and
catalog."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from testbed.exceptions import BadRequest, Forbidden
from testbed.identity.manager import IdentityManager
from testbed.identity.policy import enforce
from testbed.identity.views import Urls, collection, project_view, token_view
from testbed.web.app import ApiRequest, JsonApp, json_response

__all__ = ["SUBJECT_TOKEN_HEADER", "register"]

SUBJECT_TOKEN_HEADER = "X-Subject-Token"


def register(app: JsonApp, manager: IdentityManager) -> None:
    """Add the token routes to ``app``."""
    tokens = manager.tokens

    @app.route("/v3/auth/tokens", ["POST"], public=True)
    def issue(req: ApiRequest) -> Response:
        body = req.json()
        auth = body.get("auth") if isinstance(body, dict) else None
        token, data = tokens.issue(auth)
        view = token_view(data, Urls.of(req.http), catalog="nocatalog" not in req.query)
        return json_response(201, view, {SUBJECT_TOKEN_HEADER: token})

    def subject(req: ApiRequest, action: str) -> tuple[str, dict[str, Any]]:
        token = req.header(SUBJECT_TOKEN_HEADER)
        if not token:
            raise BadRequest(f"The {SUBJECT_TOKEN_HEADER} header is required.")
        data = tokens.validate(token, subject=True)
        if "service" not in req.ctx.roles:
            enforce(req.ctx, action, user_id=data["user"]["id"])
        return token, data

    @app.route("/v3/auth/tokens", ["GET"])
    def validate(req: ApiRequest) -> Response:
        token, data = subject(req, "validate_token")
        view = token_view(data, Urls.of(req.http), catalog="nocatalog" not in req.query)
        return json_response(200, view, {SUBJECT_TOKEN_HEADER: token})

    @app.route("/v3/auth/tokens", ["DELETE"])
    def revoke(req: ApiRequest) -> tuple[int, Any]:
        token, _data = subject(req, "revoke_token")
        tokens.revoke(token)
        return 204, None

    @app.route("/v3/auth/projects", ["GET"])
    def my_projects(req: ApiRequest) -> tuple[int, Any]:
        urls = Urls.of(req.http)
        user_id = str(req.ctx.user_id)
        projects = manager.assignments.projects_of_user(user_id, enabled_only=True)
        return 200, collection("projects", [project_view(p, urls) for p in projects], urls)

    @app.route("/v3/auth/catalog", ["GET"])
    def my_catalog(req: ApiRequest) -> tuple[int, Any]:
        if req.ctx.project_id is None:
            raise Forbidden("A project-scoped token is required to produce a service catalog.")
        urls = Urls.of(req.http)
        return 200, {"catalog": urls.catalog(), "links": {"self": urls.request}}
