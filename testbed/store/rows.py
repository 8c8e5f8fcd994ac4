"""Updating one row's columns with Core statements built once per set of columns.

Hot paths (an instance's guarded steps, a migration's status and progress) keep the row
they read as a dict and write only what differs, as an ORM flush would: no statement when
nothing changed, ``updated_at`` set when something did.  The ``UPDATE`` for each set of
columns is built (and compiled) once.  Tracing stays with the caller, which knows what the
write means.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, Update, bindparam, update

__all__ = ["update_columns", "write_changes"]

Columns = Mapping[str, ColumnElement[Any]]


def update_columns(
    connection: Connection,
    table: Table,
    key_value: Any,
    values: Mapping[str, Any],
    *,
    columns: Columns | None = None,
    key: str = "uuid",
) -> None:
    """``UPDATE table SET <values> WHERE key = key_value``.  ``values`` is keyed by
    attribute name; ``columns`` maps names to the table's columns where they differ (a
    model's ``metadata_`` is the column ``metadata``)."""
    named = columns or {}
    targets = tuple(
        (name, named[name].key if name in named else table.c[name].key) for name in sorted(values)
    )
    params = {f"set__{name}": value for name, value in values.items()}
    params["row_key"] = key_value
    connection.execute(_statement(table, key, targets), params)


def write_changes(
    connection: Connection,
    table: Table,
    row: dict[str, Any],
    changes: Mapping[str, Any],
    now: float,
    *,
    columns: Columns | None = None,
    key: str = "uuid",
) -> dict[str, Any]:
    """Update the columns ``changes`` really changes, with ``updated_at``, and bring ``row``
    (keyed by attribute name) up to date; returns what changed, empty if nothing did."""
    changed = {name: value for name, value in changes.items() if row[name] != value}
    if not changed:
        return {}
    changed["updated_at"] = now
    update_columns(connection, table, row[key], changed, columns=columns, key=key)
    row.update(changed)
    return changed


@functools.cache
def _statement(table: Table, key: str, targets: tuple[tuple[str, str], ...]) -> Update:
    return (
        update(table)
        .where(table.c[key] == bindparam("row_key"))
        .values({column: bindparam(f"set__{name}") for name, column in targets})
    )
