"""The Image API v2 (Glance subset), mounted at ``/image``.

Routes (relative to the mount point): ``/`` and ``/versions`` (version documents),
``/v2/images`` (list, create), ``/v2/images/{id}`` (show, PATCH, delete),
``/v2/images/{id}/file`` (upload, download), ``/v2/images/{id}/actions/...``
(deactivate, reactivate), ``/v2/schemas/image(s)``.  Errors are webob-style JSON:
``{"message": ..., "code": "404 Not Found", "title": "Not Found"}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.wrappers import Response

from testbed.exceptions import NotFound
from testbed.image.registry import ImageRegistry
from testbed.image.schema import image_schema, images_schema
from testbed.service import Runtime
from testbed.web.app import ApiRequest, Authenticator, JsonApp, json_response

__all__ = ["build_app", "glance_fault"]

PATCH_MEDIA_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
CURRENT_VERSION = "v2.16"
_CHUNK = 64 * 1024


def glance_fault(code: int, message: str) -> dict[str, Any]:
    """The body webob gives Glance's errors when JSON is asked for."""
    try:
        title = HTTPStatus(code).phrase
    except ValueError:
        title = "Error"
    return {"message": message, "code": f"{code} {title}", "title": title}


def _versions(req: ApiRequest) -> dict[str, Any]:
    href = f"{req.http.host_url.rstrip('/')}{req.http.script_root}/v2/"
    minors = range(16, -1, -1)
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == 16 else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for minor in minors
        ]
    }


def _params(req: ApiRequest) -> dict[str, list[str]]:
    return {key: req.query.getlist(key) for key in req.query.keys()}  # noqa: SIM118


def _chunks(req: ApiRequest) -> Iterator[bytes]:
    stream = req.http.stream
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return
        yield chunk


def build_app(runtime: Runtime, *, authenticate: Authenticator | None = None) -> JsonApp:
    """The Image API as a WSGI app.  ``authenticate`` defaults to the identity
    service's token check (:func:`testbed.identity.auth.authenticate`)."""
    if authenticate is None:
        from testbed.identity.auth import authenticate as identity_authenticate

        authenticate = identity_authenticate
    app = JsonApp(runtime, lifeline="image", render_fault=glance_fault, authenticate=authenticate)
    registry = ImageRegistry(runtime)

    @app.route("/", ["GET"], public=True)
    def root(req: ApiRequest) -> tuple[int, Any]:
        return 300, _versions(req)

    @app.route("/versions", ["GET"], public=True)
    def versions(req: ApiRequest) -> tuple[int, Any]:
        return 200, _versions(req)

    @app.route("/v2/schemas/image", ["GET"])
    def schema_image(req: ApiRequest) -> tuple[int, Any]:
        return 200, image_schema()

    @app.route("/v2/schemas/images", ["GET"])
    def schema_images(req: ApiRequest) -> tuple[int, Any]:
        return 200, images_schema()

    @app.route("/v2/images", ["GET"])
    def list_images(req: ApiRequest) -> tuple[int, Any]:
        params = _params(req)
        result = registry.list_images(req.ctx, params)
        query = {k: v for k, v in params.items() if k != "marker"}
        first = "/v2/images"
        if query:
            first += "?" + urlencode(query, doseq=True)
        body: dict[str, Any] = {
            "images": result["images"],
            "first": first,
            "schema": "/v2/schemas/images",
        }
        if result["next_marker"]:
            query["marker"] = [result["next_marker"]]
            body["next"] = "/v2/images?" + urlencode(query, doseq=True)
        return 200, body

    @app.route("/v2/images", ["POST"])
    def create_image(req: ApiRequest) -> Response:
        image = registry.create(req.ctx, req.json())
        return json_response(201, image, {"Location": image["self"]})

    @app.route("/v2/images/<image_id>", ["GET"])
    def show_image(req: ApiRequest, image_id: str) -> tuple[int, Any]:
        return 200, registry.get(req.ctx, image_id)

    @app.route("/v2/images/<image_id>", ["PATCH"])
    def update_image(req: ApiRequest, image_id: str) -> tuple[int, Any]:
        if req.http.mimetype not in PATCH_MEDIA_TYPES:
            raise UnsupportedMediaType(
                f"Unsupported Content-Type {req.http.mimetype or '(none)'}; "
                f"use {PATCH_MEDIA_TYPES[0]}"
            )
        changes = req.json()
        if not isinstance(changes, list):
            raise UnsupportedMediaType("Request body must be a JSON array of operation objects.")
        return 200, registry.update(req.ctx, image_id, changes)

    @app.route("/v2/images/<image_id>", ["DELETE"])
    def delete_image(req: ApiRequest, image_id: str) -> tuple[int, Any]:
        registry.delete(req.ctx, image_id)
        return 204, None

    @app.route("/v2/images/<image_id>/file", ["PUT"])
    def upload_image(req: ApiRequest, image_id: str) -> tuple[int, Any]:
        if req.http.mimetype != "application/octet-stream":
            raise UnsupportedMediaType(
                f"Content-Type {req.http.mimetype or '(none)'} is not supported; "
                "upload image data as application/octet-stream"
            )
        registry.upload(req.ctx, image_id, _chunks(req))
        return 204, None

    @app.route("/v2/images/<image_id>/file", ["GET"])
    def download_image(req: ApiRequest, image_id: str) -> Response:
        data = registry.download(req.ctx, image_id)
        if data is None:
            return Response(status=204)
        checksum = registry.get(req.ctx, image_id)["checksum"]
        headers = {"Content-MD5": checksum} if checksum else {}
        return Response(data, status=200, headers=headers, content_type="application/octet-stream")

    @app.route("/v2/images/<image_id>/actions/<action>", ["POST"])
    def image_action(req: ApiRequest, image_id: str, action: str) -> tuple[int, Any]:
        if action not in ("deactivate", "reactivate"):
            raise NotFound(f"The resource could not be found: action {action}")
        registry.set_deactivated(req.ctx, image_id, action == "deactivate")
        return 204, None

    return app
