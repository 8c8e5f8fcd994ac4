"""What an image may hold: Glance v2's attribute classes, value checks and the JSON
schema documents served at ``/v2/schemas/image(s)``."""

from __future__ import annotations

from typing import Any

from testbed.exceptions import BadRequest

__all__ = [
    "CONTAINER_FORMATS",
    "CORE_WRITABLE",
    "DISK_FORMATS",
    "READ_ONLY",
    "RESERVED",
    "VISIBILITIES",
    "check_value",
    "image_schema",
    "images_schema",
]

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")

#: Core attributes a client may set on create and change with PATCH.
CORE_WRITABLE = (
    "name",
    "visibility",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "protected",
    "os_hidden",
    "tags",
)
#: Set by the service only (403 "Attribute 'x' is read-only.").
READ_ONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "locations",
    "stores",
)
#: Never accepted (403 "Attribute 'x' is reserved.").
RESERVED = ("location", "deleted", "deleted_at")


def _invalid(detail: str) -> BadRequest:
    return BadRequest(f"Provided object does not match schema 'image': {detail}")


def check_value(key: str, value: Any) -> Any:
    """``value`` if it is valid for attribute ``key`` (custom properties take strings)."""
    enums = {
        "disk_format": DISK_FORMATS,
        "container_format": CONTAINER_FORMATS,
        "visibility": VISIBILITIES,
    }
    if key in enums:
        if value not in enums[key] and not (value is None and key != "visibility"):
            raise _invalid(f"{value!r} is not one of {list(enums[key])}")
        return value
    if key in ("min_disk", "min_ram"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(f"{value!r} is not of type 'integer'")
        if value < 0:
            raise _invalid(f"{value} is less than the minimum of 0")
        return value
    if key in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise _invalid(f"{value!r} is not of type 'boolean'")
        return value
    if key == "tags":
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise _invalid(f"{value!r} is not of type 'array' of strings")
        return list(dict.fromkeys(value))
    if key in ("name", "id", "owner"):
        if value is not None and not isinstance(value, str):
            raise _invalid(f"{value!r} is not of type 'string'")
        if isinstance(value, str) and len(value) > 255:
            raise _invalid(f"{value!r} is too long")
        return value
    if not isinstance(value, str):
        raise _invalid(f"{value!r} is not of type 'string'")
    return value


def image_schema() -> dict[str, Any]:
    """A compact form of Glance's ``image`` schema (what clients read from it)."""
    string = {"type": ["null", "string"], "maxLength": 255}
    return {
        "name": "image",
        "additionalProperties": {"type": "string"},
        "properties": {
            "id": {
                "type": "string",
                "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-"
                "([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
            },
            "name": string,
            "status": {
                "type": "string",
                "readOnly": True,
                "enum": [
                    "queued",
                    "saving",
                    "active",
                    "killed",
                    "deleted",
                    "uploading",
                    "importing",
                    "pending_delete",
                    "deactivated",
                ],
            },
            "visibility": {"type": "string", "enum": list(VISIBILITIES)},
            "protected": {"type": "boolean"},
            "os_hidden": {"type": "boolean"},
            "checksum": {**string, "readOnly": True},
            "os_hash_algo": {**string, "readOnly": True},
            "os_hash_value": {"type": ["null", "string"], "readOnly": True},
            "owner": string,
            "size": {"type": ["null", "integer"], "readOnly": True},
            "virtual_size": {"type": ["null", "integer"], "readOnly": True},
            "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
            "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
            "created_at": {"type": "string", "readOnly": True},
            "updated_at": {"type": "string", "readOnly": True},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
            "min_ram": {"type": "integer"},
            "min_disk": {"type": "integer"},
            "self": {"type": "string", "readOnly": True},
            "file": {"type": "string", "readOnly": True},
            "schema": {"type": "string", "readOnly": True},
        },
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema() -> dict[str, Any]:
    """Glance's ``images`` (list) schema."""
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
