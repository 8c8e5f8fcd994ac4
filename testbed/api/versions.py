"""The version documents: GET /compute (every version) and GET /compute/v2.1 (this one).

Clients (keystoneauth's discovery, openstacksdk) read ``version`` and ``min_version``
here to negotiate microversions.  Both documents are public.
"""

from __future__ import annotations

from typing import Any

from testbed.api.common import base_url
from testbed.api.routing import RouteTable
from testbed.web.app import ApiRequest

__all__ = ["routes", "version_document"]

routes = RouteTable()

UPDATED = "2013-07-23T11:33:21Z"


def version_document(req: ApiRequest) -> dict[str, Any]:
    """The v2.1 entry: status, min and max microversion, links, media type."""
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": req.runtime.config.max_microversion,
        "min_version": "2.1",
        "updated": UPDATED,
        "links": [
            {"rel": "self", "href": f"{base_url(req)}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


@routes.route("/", ["GET"], public=True, versioned=False)
def list_versions(req: ApiRequest) -> tuple[int, Any]:
    """GET /compute: the versions this API serves."""
    return 200, {"versions": [version_document(req)]}


@routes.route("/v2.1", ["GET"], public=True, versioned=False)
def show_version(req: ApiRequest) -> tuple[int, Any]:
    """GET /compute/v2.1: this version."""
    return 200, {"version": version_document(req)}
