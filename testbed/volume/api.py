"""The Block Storage API v3 (Cinder subset), mounted at ``/volume``.

Routes (relative to the mount point): ``/`` and ``/v3`` (version documents), and under
both ``/v3/{project_id}`` and ``/v3``: ``/volumes`` (list, create), ``/volumes/detail``,
``/volumes/{id}`` (show, update, delete).  Microversions are read from
``OpenStack-API-Version: volume 3.x`` and echoed.  Errors are Nova-style fault bodies
(``{"itemNotFound": {"code": 404, "message": ...}}``), as Cinder's are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import NotAcceptable

from testbed.exceptions import BadRequest
from testbed.service import Runtime
from testbed.volume.rpcapi import VolumeAPI
from testbed.volume.volumes import VolumeRegistry
from testbed.web.app import ApiRequest, Authenticator, JsonApp, nova_fault

__all__ = ["MAX_VERSION", "MIN_VERSION", "build_app"]

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 70)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def _fmt(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _requested_version(req: ApiRequest) -> tuple[int, int]:
    header = req.header("OpenStack-API-Version") or ""
    value: str | None = None
    for part in header.split(","):
        service, _, wanted = part.strip().partition(" ")
        if service.lower() == "volume":
            value = wanted.strip()
    value = value or req.header("OpenStack-Volume-microversion")
    if not value:
        return MIN_VERSION
    if value.lower() == "latest":
        return MAX_VERSION
    match = _VERSION_RE.match(value)
    if match is None:
        raise BadRequest(
            f"API Version String {value} is of invalid format. Must be of format MajorNum.MinorNum."
        )
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise NotAcceptable(
            f"Version {value} is not supported by the API. Minimum is "
            f"{_fmt(MIN_VERSION)} and maximum is {_fmt(MAX_VERSION)}."
        )
    return version


def _cinder(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Check the microversion and the project in the URL, and echo the version."""

    @functools.wraps(fn)
    def wrapper(req: ApiRequest, project_id: str | None = None, **kwargs: Any) -> Any:
        version = _requested_version(req)
        req.response_headers["OpenStack-API-Version"] = f"volume {_fmt(version)}"
        req.response_headers["Vary"] = "OpenStack-API-Version"
        if project_id is not None and project_id != req.ctx.project_id:
            raise BadRequest("Malformed request url")
        base = f"{req.http.host_url.rstrip('/')}{req.http.script_root}/v3"
        if project_id is not None:
            base += f"/{project_id}"
        return fn(req, base, **kwargs)

    return wrapper


def _versions(req: ApiRequest) -> dict[str, Any]:
    href = f"{req.http.host_url.rstrip('/')}{req.http.script_root}/v3/"
    return {
        "versions": [
            {
                "id": "v3.0",
                "status": "CURRENT",
                "version": _fmt(MAX_VERSION),
                "min_version": _fmt(MIN_VERSION),
                "updated": "2023-08-31T00:00:00Z",
                "links": [
                    {
                        "rel": "describedby",
                        "type": "text/html",
                        "href": "https://docs.openstack.org/",
                    },
                    {"rel": "self", "href": href},
                ],
                "media-types": [
                    {
                        "base": "application/json",
                        "type": "application/vnd.openstack.volume+json;version=3",
                    }
                ],
            }
        ]
    }


def build_app(runtime: Runtime, *, authenticate: Authenticator | None = None) -> JsonApp:
    """The Block Storage API as a WSGI app.  ``authenticate`` defaults to the identity
    service's token check (:func:`testbed.identity.auth.authenticate`)."""
    if authenticate is None:
        from testbed.identity.auth import authenticate as identity_authenticate

        authenticate = identity_authenticate
    app = JsonApp(runtime, lifeline="volume", render_fault=nova_fault, authenticate=authenticate)
    volumes = VolumeRegistry(runtime)
    rpc = VolumeAPI(runtime.bus)

    @app.route("/", ["GET"], public=True)
    def root(req: ApiRequest) -> tuple[int, Any]:
        return 300, _versions(req)

    @app.route("/v3", ["GET"], public=True)
    def v3(req: ApiRequest) -> tuple[int, Any]:
        return 200, _versions(req)

    def list_volumes(req: ApiRequest, base: str, *, detail: bool) -> tuple[int, Any]:
        params = {k: req.query.get(k) for k in req.query.keys()}  # noqa: SIM118
        items, next_marker = volumes.list_volumes(req.ctx, params, detail=detail, base=base)
        body: dict[str, Any] = {"volumes": items}
        if next_marker:
            query = [(k, v) for k, v in req.query.items(multi=True) if k != "marker"]
            query.append(("marker", next_marker))
            path = "/volumes/detail" if detail else "/volumes"
            body["volumes_links"] = [{"rel": "next", "href": f"{base}{path}?{urlencode(query)}"}]
        return 200, body

    @_cinder
    def index(req: ApiRequest, base: str) -> tuple[int, Any]:
        return list_volumes(req, base, detail=False)

    @_cinder
    def detail(req: ApiRequest, base: str) -> tuple[int, Any]:
        return list_volumes(req, base, detail=True)

    @_cinder
    def create(req: ApiRequest, base: str) -> tuple[int, Any]:
        volume_id, body = volumes.create(req.ctx, req.body_of("volume"), base)
        rpc.build_volume(req.ctx, volume_id)
        return 202, {"volume": body}

    @_cinder
    def show(req: ApiRequest, base: str, volume_id: str) -> tuple[int, Any]:
        return 200, {"volume": volumes.get(req.ctx, volume_id, base)}

    @_cinder
    def update(req: ApiRequest, base: str, volume_id: str) -> tuple[int, Any]:
        return 200, {"volume": volumes.update(req.ctx, volume_id, req.body_of("volume"), base)}

    @_cinder
    def delete(req: ApiRequest, base: str, volume_id: str) -> tuple[int, Any]:
        volumes.begin_delete(req.ctx, volume_id)
        rpc.destroy_volume(req.ctx, volume_id)
        return 202, None

    for prefix in ("/v3/<project_id>", "/v3"):
        app.route(f"{prefix}/volumes", ["GET"])(index)
        app.route(f"{prefix}/volumes/detail", ["GET"])(detail)
        app.route(f"{prefix}/volumes", ["POST"])(create)
        app.route(f"{prefix}/volumes/<volume_id>", ["GET"])(show)
        app.route(f"{prefix}/volumes/<volume_id>", ["PUT"])(update)
        app.route(f"{prefix}/volumes/<volume_id>", ["DELETE"])(delete)
    return app
