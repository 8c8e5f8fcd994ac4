"""The compute manager's writes to an instance row, each guarded by the task-id rule.

Every step of a task is one short transaction (:meth:`InstanceRecords.transition`): read
the row ``FOR UPDATE``, check that the caller still owns the task (its ``task_id``, or the
``task_state`` it expects), apply the changes, and record action events, faults and
allocation changes in the same transaction.  A step whose guard fails changes nothing
and returns None: the handler stops quietly (a ``log`` trace event says why).  Only a
force delete (``task_id`` None on terminate) skips the task-id check.

Every build, move and power operation goes through here several times, so the row is
read and written with Core statements (an ORM load and flush cost several times more);
the writes are traced as the flush would trace them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, select

from testbed.compute import actions
from testbed.compute.models import (
    BlockDeviceMapping,
    Instance,
    ServerGroupMember,
    flavor_totals,
)
from testbed.context import RequestContext, current_service
from testbed.scheduler import claims
from testbed.service import Runtime
from testbed.store.db import Store, Transaction, core
from testbed.store.rows import write_changes

__all__ = [
    "Event",
    "Fault",
    "InstanceRecords",
    "block_device_info",
    "fault_from",
    "instance_bdms",
    "instance_payload",
    "read_instance",
    "record_events",
]

LOG = logging.getLogger(__name__)

_PAYLOAD_FIELDS = (
    "uuid",
    "display_name",
    "hostname",
    "project_id",
    "user_id",
    "host",
    "node",
    "availability_zone",
    "image_ref",
    "flavor",
    "vm_state",
    "task_state",
    "power_state",
    "task_id",
    "launched_at",
    "created_at",
    "root_device_name",
    "network_info",
    "requested_networks",
    "user_data",
    "key_name",
    "launch_index",
    "deleted",
    "terminated_at",
)


def instance_payload(inst: Instance | Mapping[str, Any]) -> dict[str, Any]:
    """The instance as the driver and the handlers see it (a JSON-safe dict), from a row
    object or from its column values by attribute name."""
    values: Mapping[str, Any] = inst if isinstance(inst, Mapping) else _Attributes(inst)
    data = {name: values[name] for name in _PAYLOAD_FIELDS}
    data["metadata"] = dict(values["metadata_"] or {})
    data["flavor"] = dict(values["flavor"] or {})
    data["network_info"] = list(values["network_info"] or [])
    return data


class _Attributes(Mapping[str, Any]):
    """An ORM row's attributes, read as a mapping."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __getitem__(self, name: str) -> Any:
        return getattr(self._obj, name)

    def __iter__(self) -> Any:
        return iter(_COLUMNS)

    def __len__(self) -> int:
        return len(_COLUMNS)


_INSTANCES = cast(Table, Instance.__table__)
# attribute name -> column (``metadata_`` is the column ``metadata``)
_COLUMNS = {prop.key: prop.columns[0] for prop in Instance.__mapper__.column_attrs}
_ROW = select(*(column.label(name) for name, column in _COLUMNS.items())).where(
    _INSTANCES.c.uuid == bindparam("uuid")
)
_ROW_FOR_UPDATE = _ROW.with_for_update()
_STATES = select(
    _INSTANCES.c.host, _INSTANCES.c.vm_state, _INSTANCES.c.task_state, _INSTANCES.c.power_state
).where(_INSTANCES.c.uuid == bindparam("uuid"))
_BDMS = cast(Table, BlockDeviceMapping.__table__)
_BDM = _BDMS.c
_BDM_ROWS = (
    select(
        *(prop.columns[0].label(prop.key) for prop in BlockDeviceMapping.__mapper__.column_attrs)
    )
    .where(_BDM.instance_uuid == bindparam("uuid"))
    .order_by(_BDM.id)
)
_PURGE = tuple(
    (
        table.name,
        delete(table)
        .where(table.c.instance_uuid == bindparam("uuid"))
        .execution_options(preserve_rowcount=True),
    )
    for table in (_BDMS, cast(Table, ServerGroupMember.__table__))
)


@dataclass(frozen=True)
class Event:
    """An action event to open (``result`` None) or close (``Success``/``Error``)."""

    name: str
    result: str | None = None
    details: str | None = None


def record_events(
    tx: Transaction,
    ctx: RequestContext,
    instance_uuid: str,
    events: tuple[Event, ...],
    *,
    now: float,
    host: str | None,
) -> None:
    """Open or close action events of the request's action on the instance, in the
    caller's transaction."""
    for event in events:
        if event.result is None:
            actions.start_event(tx, instance_uuid, ctx.request_id, event.name, now=now, host=host)
        else:
            actions.finish_event(
                tx,
                instance_uuid,
                ctx.request_id,
                event.name,
                now=now,
                result=event.result,
                host=host,
                details=event.details,
            )


@dataclass(frozen=True)
class Fault:
    """An instance fault to record."""

    message: str
    code: int = 500
    details: str = ""


def fault_from(exc: BaseException) -> Fault:
    """The fault an exception leaves (its HTTP code for our errors, as Nova uses the
    exception's code; 500 otherwise)."""
    code = getattr(exc, "code", 500)
    return Fault(
        actions.fault_message(exc),
        code=code if isinstance(code, int) else 500,
        details=type(exc).__name__,
    )


class InstanceRecords:
    """Guarded writes to instance rows on behalf of one compute host."""

    def __init__(self, runtime: Runtime, host: str) -> None:
        self.runtime = runtime
        self.host = host

    def transition(
        self,
        ctx: RequestContext,
        uuid: str,
        *,
        task_id: str | None = None,
        expect_task_state: tuple[str | None, ...] | None = None,
        values: dict[str, Any] | None = None,
        then: tuple[dict[str, Any], ...] = (),
        events: tuple[Event, ...] = (),
        faults: tuple[Fault, ...] = (),
        release_allocations: bool = False,
        purge: bool = False,
        allow_deleted: bool = False,
        with_bdms: bool = False,
    ) -> dict[str, Any] | None:
        """One guarded step; the instance after it, or None if the guard refused.

        ``task_id``: the task the caller continues (checked when not None).
        ``expect_task_state``: the task states the step may start from.
        ``then``: further changes, each applied after the previous ones are flushed (so
        the trace shows every intermediate state) in the same transaction.
        ``purge``: also drop the instance's block device mappings and server group
        membership (the last step of a delete).
        ``with_bdms``: add the instance's block device mappings (``block_device_mappings``)
        to the returned instance.
        """
        runtime = self.runtime
        now = runtime.clock.now()
        store = runtime.store
        with store.transaction() as connection:
            found = connection.execute(_ROW_FOR_UPDATE, {"uuid": uuid}).mappings().first()
            inst = dict(found) if found is not None else None
            refusal = self._refusal(inst, task_id, expect_task_state, allow_deleted)
            if refusal is not None or inst is None:
                payload = None
            else:
                for changes in (values or {}, *then):
                    _update(store, connection, inst, changes, now)
                for fault in faults:
                    actions.add_fault(
                        connection,
                        uuid,
                        message=fault.message,
                        code=fault.code,
                        details=fault.details,
                        now=now,
                        host=self.host,
                        tracer=runtime.tracer,
                    )
                record_events(connection, ctx, uuid, events, now=now, host=self.host)
                if release_allocations:
                    claims.release(connection, uuid, tracer=runtime.tracer)
                if purge:
                    _purge(store, connection, uuid)
                payload = instance_payload(inst)
                if with_bdms:
                    payload["block_device_mappings"] = instance_bdms(connection, uuid)
        if refusal is not None:
            self._refused(ctx, uuid, refusal)
        return payload

    def load(self, uuid: str) -> dict[str, Any] | None:
        """The instance (deleted ones too), or None."""
        with self.runtime.store.transaction() as connection:
            return read_instance(connection, uuid)

    def states(self, uuid: str) -> dict[str, Any] | None:
        """The instance's ``host``, ``vm_state``, ``task_state`` and ``power_state`` (deleted
        ones too), or None: a cheap first look for what may have nothing to do."""
        with self.runtime.store.transaction() as connection:
            found = connection.execute(_STATES, {"uuid": uuid}).mappings().first()
        return dict(found) if found is not None else None

    def record_event(self, ctx: RequestContext, uuid: str, event: Event) -> None:
        """Record an action event without touching the instance."""
        with self.runtime.store.transaction() as connection:
            record_events(
                connection, ctx, uuid, (event,), now=self.runtime.clock.now(), host=self.host
            )

    # -- block devices --------------------------------------------------------------------
    def block_device_mappings(self, uuid: str) -> list[dict[str, Any]]:
        """The instance's BDMs as dicts, boot disk first."""
        with self.runtime.store.transaction() as connection:
            return instance_bdms(connection, uuid)

    def update_bdm(self, bdm_id: int, **values: Any) -> None:
        """Save what the attachment flow learned (volume_id, attachment_id, ...)."""
        with self.runtime.store.session() as session:
            row = session.get(BlockDeviceMapping, bdm_id)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)

    # -- internals ------------------------------------------------------------------------
    @staticmethod
    def _refusal(
        inst: dict[str, Any] | None,
        task_id: str | None,
        expect_task_state: tuple[str | None, ...] | None,
        allow_deleted: bool,
    ) -> str | None:
        if inst is None:
            return "instance not found"
        if inst["deleted"] and not allow_deleted:
            return "instance deleted"
        if task_id is not None and inst["task_id"] != task_id:
            return f"task {task_id} is not the instance's current task ({inst['task_id']})"
        if expect_task_state is not None and inst["task_state"] not in expect_task_state:
            return f"task_state is {inst['task_state']}, expected one of {list(expect_task_state)}"
        return None

    def _refused(self, ctx: RequestContext, uuid: str, reason: str) -> None:
        LOG.info("compute %s: instance %s: step refused: %s", self.host, uuid, reason)
        self.runtime.tracer.record(
            "log",
            request_id=ctx.request_id,
            source=current_service(),
            name="task_refused",
            instance_uuid=uuid,
            detail={"reason": reason},
        )


def _update(
    store: Store, connection: Connection, inst: dict[str, Any], changes: dict[str, Any], now: float
) -> None:
    """Write what ``changes`` really changes (the flavor's totals with the flavor) and
    bring ``inst`` up to date; traced like a flush."""
    if "flavor" in changes:
        changes = {**changes, **flavor_totals(changes["flavor"])}
    changed = write_changes(connection, _INSTANCES, inst, changes, now, columns=_COLUMNS)
    if not changed:
        return
    state_columns = Instance.__trace_state__
    store.trace_write(
        "UPDATE",
        "instances",
        instance_uuid=inst["uuid"],
        state={c: inst[c] for c in state_columns} if changed.keys() & set(state_columns) else None,
    )


def _purge(store: Store, connection: Connection, uuid: str) -> None:
    """Drop the instance's block device mappings and server group membership."""
    for table, statement in _PURGE:
        if connection.execute(statement, {"uuid": uuid}).rowcount:
            store.trace_write("DELETE", table, instance_uuid=uuid)


def read_instance(tx: Transaction, uuid: str) -> dict[str, Any] | None:
    """The instance (deleted ones too) as :meth:`InstanceRecords.load` gives it, read in
    the caller's transaction."""
    found = core(tx).execute(_ROW, {"uuid": uuid}).mappings().first()
    return instance_payload(dict(found)) if found is not None else None


def instance_bdms(tx: Transaction, uuid: str) -> list[dict[str, Any]]:
    """The instance's block device mappings as dicts, boot disk first, read in the
    caller's transaction."""
    rows = core(tx).execute(_BDM_ROWS, {"uuid": uuid}).mappings()
    bdms = [dict(row) for row in rows]
    return sorted(bdms, key=lambda b: (b["boot_index"] is None or b["boot_index"] < 0,))


def block_device_info(inst: dict[str, Any], bdms: list[dict[str, Any]]) -> dict[str, Any]:
    """The driver's view of the instance's disks (volumes with their connection_info)."""
    mappings = [
        {
            "connection_info": bdm["connection_info"],
            "mount_device": bdm["device_name"],
            "boot_index": bdm["boot_index"],
            "delete_on_termination": bdm["delete_on_termination"],
            "volume_id": bdm["volume_id"],
        }
        for bdm in bdms
        if bdm["destination_type"] == "volume" and bdm["connection_info"]
    ]
    return {
        "root_device_name": inst.get("root_device_name"),
        "block_device_mapping": mappings,
        "ephemerals": [],
        "swap": None,
    }
