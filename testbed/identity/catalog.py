"""The service catalog tokens carry: where each service of the cloud answers.

URLs are built from the cloud's base URL (scheme, host and the prefix the cloud is mounted
under), so the catalog is right whichever host name or port a client used.  The layout is
devstack's: one host, a path prefix per service, every interface at the same URL.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["REGION", "SERVICES", "build_catalog"]

REGION = "RegionOne"
INTERFACES = ("public", "internal", "admin")
_NAMESPACE = uuid.UUID("0b6f1f0e-3a36-4a8e-b5f7-636174616c6f")

# (type, name, path below the cloud's base URL)
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("block-storage", "cinder", "/volume/v3"),
    ("volumev3", "cinderv3", "/volume/v3"),
)


def _stable_id(*parts: str) -> str:
    return uuid.uuid5(_NAMESPACE, ":".join(parts)).hex


def build_catalog(base_url: str, *, identity_url: str | None = None) -> list[dict[str, Any]]:
    """Keystone's catalog: ``[{id, type, name, endpoints: [{id, interface, region,
    region_id, url}]}]``.  ``identity_url`` overrides where identity itself answers."""
    base = base_url.rstrip("/")
    catalog: list[dict[str, Any]] = []
    for service_type, name, path in SERVICES:
        url = identity_url if service_type == "identity" and identity_url else base + path
        endpoints = [
            {
                "id": _stable_id(service_type, interface),
                "interface": interface,
                "region": REGION,
                "region_id": REGION,
                "url": url,
            }
            for interface in INTERFACES
        ]
        catalog.append(
            {
                "id": _stable_id(service_type),
                "type": service_type,
                "name": name,
                "endpoints": endpoints,
            }
        )
    return catalog
