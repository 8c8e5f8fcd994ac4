"""JSON schemas of the servers resource's request bodies, per microversion (Nova's
nova/api/openstack/compute/schemas/servers.py, reduced to what the test-bed serves)."""

from __future__ import annotations

from typing import Any

from testbed.api.validation import BOOLEAN, POSITIVE_INT, UUID, name_schema

__all__ = ["METADATA", "create_schema", "update_schema"]

Schema = dict[str, Any]

METADATA: Schema = {
    "type": "object",
    "patternProperties": {
        "^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255},
    },
    "additionalProperties": False,
}

_IPV4: Schema = {"type": "string", "pattern": r"^(\d{1,3}\.){3}\d{1,3}$"}
_IPV6: Schema = {"type": "string", "pattern": r"^[0-9a-fA-F:.]+$"}
_DESCRIPTION: Schema = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
_NETWORK: Schema = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "port": {"oneOf": [UUID, {"type": "null"}]},
        "fixed_ip": {"type": "string"},
        "tag": {"type": "string"},
    },
    "additionalProperties": False,
}
_BDM: Schema = {
    "type": "object",
    "properties": {
        "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
        "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "uuid": {"type": "string", "minLength": 1, "maxLength": 255},
        "boot_index": {"type": ["integer", "string", "null"]},
        "volume_size": {"type": ["integer", "string", "null"]},
        "delete_on_termination": BOOLEAN,
        "device_name": {"type": ["string", "null"]},
        "device_type": {"type": ["string", "null"]},
        "disk_bus": {"type": ["string", "null"]},
        "guest_format": {"type": ["string", "null"]},
        "volume_type": {"type": ["string", "null"]},
        "no_device": {},
        "tag": {"type": "string"},
    },
    "additionalProperties": False,
}


def create_schema(version: tuple[int, int]) -> Schema:
    """The body of POST /servers at ``version`` ((major, minor))."""
    networks: Schema = {"type": "array", "items": _NETWORK}
    required = ["name", "flavorRef"]
    if version >= (2, 37):
        networks = {"oneOf": [networks, {"type": "string", "enum": ["none", "auto"]}]}
        required.append("networks")
    server: Schema = {
        "type": "object",
        "properties": {
            "name": name_schema(),
            "imageRef": {"type": "string", "maxLength": 255},
            "flavorRef": {"type": ["string", "integer"], "minLength": 1},
            "adminPass": {"type": "string"},
            "metadata": METADATA,
            "networks": networks,
            "accessIPv4": _IPV4,
            "accessIPv6": _IPV6,
            "availability_zone": name_schema(),
            "user_data": {"type": "string", "maxLength": 65535},
            "key_name": name_schema(),
            "min_count": POSITIVE_INT,
            "max_count": POSITIVE_INT,
            "return_reservation_id": BOOLEAN,
            "block_device_mapping_v2": {"type": "array", "items": _BDM},
            "block_device_mapping": {"type": "array"},
            "config_drive": BOOLEAN,
            "security_groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
            "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        },
        "required": required,
        "additionalProperties": False,
    }
    props = server["properties"]
    if version < (2, 57):
        props["personality"] = {"type": "array"}
    if version >= (2, 19):
        props["description"] = _DESCRIPTION
    if version >= (2, 52):
        props["tags"] = {"type": "array", "items": {"type": "string"}}
    if version >= (2, 74):
        props["host"] = {"type": "string"}
        props["hypervisor_hostname"] = {"type": "string"}
    if version >= (2, 90):
        props["hostname"] = {"type": "string", "minLength": 1, "maxLength": 63}
    hints: Schema = {"type": "object", "properties": {"group": UUID}}
    return {
        "type": "object",
        "properties": {
            "server": server,
            "os:scheduler_hints": hints,
            "OS-SCH-HNT:scheduler_hints": hints,
        },
        "required": ["server"],
        "additionalProperties": False,
    }


def update_schema(version: tuple[int, int]) -> Schema:
    """The body of PUT /servers/{id} at ``version``."""
    props: Schema = {
        "name": name_schema(),
        "accessIPv4": _IPV4,
        "accessIPv6": _IPV6,
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    }
    if version >= (2, 19):
        props["description"] = _DESCRIPTION
    if version >= (2, 90):
        props["hostname"] = {"type": "string", "minLength": 1, "maxLength": 63}
    return {
        "type": "object",
        "properties": {
            "server": {"type": "object", "properties": props, "additionalProperties": False}
        },
        "required": ["server"],
        "additionalProperties": False,
    }
