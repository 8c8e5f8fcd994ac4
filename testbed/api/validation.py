"""Request-body validation the way Nova's JSON schemas answer.

A small subset of JSON Schema (type, properties, required, additionalProperties,
patternProperties, enum, minLength/maxLength, minimum/maximum, pattern, format "uuid",
items/minItems/maxItems, oneOf), with jsonschema's wording wrapped in Nova's
``Invalid input for field/attribute <field>. Value: <value>. <reason>`` so a client's
mistake reads exactly as it would against Nova (always a 400, never a 500).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from testbed.exceptions import BadRequest

__all__ = [
    "BOOLEAN",
    "NON_NEGATIVE_INT",
    "POSITIVE_INT",
    "UUID",
    "as_bool",
    "as_int",
    "name_schema",
    "validate",
]

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
POSITIVE_INT: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 1,
    "minLength": 1,
}
NON_NEGATIVE_INT: Schema = {
    "type": ["integer", "string"],
    "pattern": "^[0-9]*$",
    "minimum": 0,
    "minLength": 1,
}
_TRUE = (True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes")
_FALSE = (False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no")
BOOLEAN: Schema = {"type": ["boolean", "string"], "enum": [*_TRUE, *_FALSE]}


def name_schema(max_length: int = 255) -> Schema:
    """A display name: 1..max characters, no leading or trailing whitespace."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": r"^(?! )[\S ]*(?<! )$",
    }


def as_bool(value: Any) -> bool:
    """A value already validated against :data:`BOOLEAN` as a bool."""
    return value in _TRUE


def as_int(value: Any) -> int:
    """A value already validated against an integer schema as an int."""
    return int(value)


class _Invalid(Exception):
    def __init__(self, path: list[str | int], value: Any, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.value = value
        self.reason = reason


def validate(instance: Any, schema: Schema) -> None:
    """Raise :class:`BadRequest` with Nova's message if ``instance`` breaks ``schema``."""
    try:
        _check(instance, schema, [])
    except _Invalid as exc:
        if exc.path:
            raise BadRequest(
                f"Invalid input for field/attribute {exc.path[-1]}. "
                f"Value: {_plain(exc.value)}. {exc.reason}"
            ) from None
        raise BadRequest(exc.reason) from None


def _plain(value: Any) -> str:
    return str(value)


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[name])


def _check(value: Any, schema: Schema, path: list[str | int]) -> None:
    if "oneOf" in schema:
        _check_one_of(value, schema["oneOf"], path)
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(value, n) for n in names):
            shown = repr(names[0]) if len(names) == 1 else repr(names)
            raise _Invalid(path, value, f"{value!r} is not of type {shown}")
    if "enum" in schema and not any(value == e and type(value) is type(e) for e in schema["enum"]):
        raise _Invalid(path, value, f"{value!r} is not one of {schema['enum']!r}")
    if isinstance(value, str):
        _check_string(value, schema, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(value, schema, path)
    if isinstance(value, str) and "minimum" in schema and re.fullmatch(r"[0-9]+", value):
        _check_number(int(value), schema, path, shown=value)
    if isinstance(value, dict):
        _check_object(value, schema, path)
    if isinstance(value, list):
        _check_array(value, schema, path)


def _check_one_of(value: Any, options: list[Schema], path: list[str | int]) -> None:
    failures: list[_Invalid] = []
    for option in options:
        try:
            _check(value, option, path)
        except _Invalid as exc:
            failures.append(exc)
        else:
            return
    deepest = max(failures, key=lambda f: len(f.path))
    if len(deepest.path) > len(path):
        raise deepest
    raise _Invalid(path, value, f"{value!r} is not valid under any of the given schemas")


def _check_string(value: str, schema: Schema, path: list[str | int]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise _Invalid(path, value, f"{value!r} is too short")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise _Invalid(path, value, f"{value!r} is too long")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise _Invalid(path, value, f"{value!r} does not match {schema['pattern']!r}")
    if schema.get("format") == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            raise _Invalid(path, value, f"{value!r} is not a 'uuid'") from None


def _check_number(
    value: float, schema: Schema, path: list[str | int], *, shown: Any = None
) -> None:
    shown = value if shown is None else shown
    if "minimum" in schema and value < schema["minimum"]:
        raise _Invalid(path, shown, f"{shown!r} is less than the minimum of {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise _Invalid(path, shown, f"{shown!r} is greater than the maximum of {schema['maximum']}")


def _check_object(value: dict[str, Any], schema: Schema, path: list[str | int]) -> None:
    properties: dict[str, Schema] = schema.get("properties", {})
    patterns: dict[str, Schema] = schema.get("patternProperties", {})
    for name in schema.get("required", ()):
        if name not in value:
            raise _Invalid(path, value, f"{name!r} is a required property")
    unexpected = []
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], [*path, key])
            continue
        matched = [s for p, s in patterns.items() if re.search(p, key)]
        for sub in matched:
            _check(item, sub, [*path, key])
        if not matched:
            extra = schema.get("additionalProperties", True)
            if extra is False:
                unexpected.append(key)
            elif isinstance(extra, dict):
                _check(item, extra, [*path, key])
    if unexpected:
        names = ", ".join(repr(k) for k in sorted(unexpected))
        verb = "was" if len(unexpected) == 1 else "were"
        raise _Invalid(
            path, value, f"Additional properties are not allowed ({names} {verb} unexpected)"
        )
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        raise _Invalid(path, value, f"{value!r} does not have enough properties")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise _Invalid(path, value, f"{value!r} has too many properties")


def _check_array(value: list[Any], schema: Schema, path: list[str | int]) -> None:
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise _Invalid(path, value, f"{value!r} is too short")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise _Invalid(path, value, f"{value!r} is too long")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _check(item, items, [*path, index])
    if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
        raise _Invalid(path, value, f"{value!r} has non-unique elements")
