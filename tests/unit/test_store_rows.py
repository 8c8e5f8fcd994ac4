"""testbed.store.rows: writing only what changed, by attribute name."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, event, select

from testbed.compute.models import Instance
from testbed.store.db import Store
from testbed.store.rows import write_changes

INSTANCES = cast(Table, Instance.__table__)
COLUMNS = {prop.key: prop.columns[0] for prop in Instance.__mapper__.column_attrs}


def _store_with_instance() -> tuple[Store, dict[str, Any], list[str]]:
    store = Store("sqlite://", now=lambda: 10.0)
    store.create_schema()
    with store.session() as s:
        s.add(Instance(uuid="i-1", project_id="p", user_id="u", flavor={"vcpus": 1}))
    with store.session() as s:
        row = dict(
            s.connection()
            .execute(select(*(c.label(n) for n, c in COLUMNS.items())))
            .mappings()
            .one()
        )
    statements: list[str] = []
    event.listen(
        store.engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: statements.append(sql.split()[0]),
    )
    return store, row, statements


def test_only_real_changes_are_written_with_updated_at_by_attribute_name() -> None:
    store, row, statements = _store_with_instance()
    with store.session() as s:
        changed = write_changes(
            s.connection(),
            INSTANCES,
            row,
            {"task_state": None, "vm_state": "active", "metadata_": {"k": "v"}},
            42.0,
            columns=COLUMNS,
        )
    assert changed == {"vm_state": "active", "metadata_": {"k": "v"}, "updated_at": 42.0}
    assert row["vm_state"] == "active" and row["updated_at"] == 42.0
    with store.session() as s:
        saved = s.get(Instance, "i-1")
        assert saved is not None
        assert (saved.vm_state, saved.metadata_, saved.updated_at) == ("active", {"k": "v"}, 42.0)
    assert statements.count("UPDATE") == 1


def test_nothing_changed_writes_nothing() -> None:
    store, row, statements = _store_with_instance()
    with store.session() as s:
        changed = write_changes(
            s.connection(), INSTANCES, row, {"vm_state": row["vm_state"]}, 42.0, columns=COLUMNS
        )
    assert changed == {}
    assert "UPDATE" not in statements
