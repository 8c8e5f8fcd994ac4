"""Instance action events and instance faults (os-instance-actions, the server's fault).

The api records an :class:`InstanceAction` per request (``create``, ``stop``...); each
service that works on it adds :class:`InstanceActionEvent` rows (``compute_stop_instance``,
``conductor_schedule_and_build_instances``) with a result of ``Success`` or ``Error``.  As
in Nova, a failed event marks its action's ``message`` ``Error``.  These helpers take an
open transaction (a session or a Core connection) so callers can record events in the
same transaction as the state change.
Every step of every task records events, so they write with Core statements (traced as
a flush would trace them).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from testbed.compute.models import InstanceAction, InstanceActionEvent, InstanceFault
from testbed.store.db import Store, Transaction, core
from testbed.trace import Tracer

__all__ = ["ERROR", "SUCCESS", "add_fault", "fault_message", "finish_event", "start_event"]

LOG = logging.getLogger(__name__)

SUCCESS = "Success"
ERROR = "Error"


_ACTIONS = cast(Table, InstanceAction.__table__)
_EVENTS = cast(Table, InstanceActionEvent.__table__)
# The request's action on the instance (the latest, if several), as a scalar subquery:
# every event statement finds its action by itself, one statement each.
_ACTION_ID = (
    select(_ACTIONS.c.id)
    .where(
        _ACTIONS.c.instance_uuid == bindparam("of_instance"),
        _ACTIONS.c.request_id == bindparam("of_request"),
    )
    .order_by(_ACTIONS.c.id.desc())
    .limit(1)
)
_EVENT_COLUMNS = ("event", "start_time", "finish_time", "result", "host", "details")
_INSERT_EVENT = (
    insert(_EVENTS)
    .from_select(
        ["action_id", *_EVENT_COLUMNS],
        _ACTION_ID.with_only_columns(
            _ACTIONS.c.id,
            *(bindparam(f"new_{c}", type_=_EVENTS.c[c].type) for c in _EVENT_COLUMNS),
        ),
    )
    .execution_options(preserve_rowcount=True)  # 0 rows: the request recorded no action
)
_FINISH_EVENT = (
    update(_EVENTS)
    .where(
        _EVENTS.c.action_id == _ACTION_ID.scalar_subquery(),
        _EVENTS.c.event == bindparam("new_event"),
        _EVENTS.c.finish_time.is_(None),
    )
    .values(
        finish_time=bindparam("new_finish_time"),
        result=bindparam("new_result"),
        details=bindparam("new_details"),
    )
)
# Nova moves the action's updated_at with each finished event and marks it Error when one
# fails.  (Matching the request rather than the latest action: MySQL cannot update a table
# it reads in a subquery.  A request records one action per instance.)
_FINISH_ACTION = (
    update(_ACTIONS)
    .where(
        _ACTIONS.c.instance_uuid == bindparam("of_instance"),
        _ACTIONS.c.request_id == bindparam("of_request"),
    )
    .values(finish_time=bindparam("now"), updated_at=bindparam("now"))
)
_FAIL_ACTION = _FINISH_ACTION.values(message=ERROR)
_INSERT_FAULT = insert(cast(Table, InstanceFault.__table__))


def _insert_event(
    connection: Connection, instance_uuid: str, request_id: str, event: str, **values: Any
) -> bool:
    """Add an event to the request's action; False when the request recorded none."""
    row = {f"new_{c}": values.get(c) for c in _EVENT_COLUMNS}
    row["new_event"] = event
    params = {"of_instance": instance_uuid, "of_request": request_id, **row}
    return connection.execute(_INSERT_EVENT, params).rowcount > 0


def start_event(
    tx: Transaction,
    instance_uuid: str,
    request_id: str,
    event: str,
    *,
    now: float,
    host: str | None,
) -> None:
    """Open an event of the action the request recorded (skipped if there is none)."""
    if not _insert_event(core(tx), instance_uuid, request_id, event, start_time=now, host=host):
        LOG.debug("no action for %s in %s; event %s not recorded", instance_uuid, request_id, event)
        return
    Store.of(tx).trace_write("INSERT", "instance_action_events")


def finish_event(
    tx: Transaction,
    instance_uuid: str,
    request_id: str,
    event: str,
    *,
    now: float,
    result: str,
    host: str | None = None,
    details: str | None = None,
) -> None:
    """Close the open event (or record a finished one if it was never opened)."""
    connection = core(tx)
    store = Store.of(tx)
    keys = {"of_instance": instance_uuid, "of_request": request_id}
    closed = connection.execute(
        _FINISH_EVENT,
        {
            **keys,
            "new_event": event,
            "new_finish_time": now,
            "new_result": result,
            "new_details": details,
        },
    ).rowcount
    if closed:
        store.trace_write("UPDATE", "instance_action_events")
    elif _insert_event(
        connection,
        instance_uuid,
        request_id,
        event,
        start_time=now,
        finish_time=now,
        result=result,
        host=host,
        details=details,
    ):
        store.trace_write("INSERT", "instance_action_events")
    else:
        return  # the request recorded no action
    connection.execute(_FAIL_ACTION if result == ERROR else _FINISH_ACTION, {**keys, "now": now})
    store.trace_write("UPDATE", "instance_actions", instance_uuid=instance_uuid)


def fault_message(exc: BaseException) -> str:
    """The message a fault shows for an exception (Nova truncates at 255)."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)[:255]


def add_fault(
    tx: Transaction,
    instance_uuid: str,
    *,
    message: str,
    now: float,
    host: str | None,
    code: int = 500,
    details: str = "",
    tracer: Tracer | None = None,
) -> None:
    """Record why an instance failed (the server's ``fault``)."""
    core(tx).execute(
        _INSERT_FAULT,
        {
            "instance_uuid": instance_uuid,
            "code": code,
            "message": message[:255],
            "details": details,
            "host": host,
            "created_at": now,
        },
    )
    Store.of(tx).trace_write("INSERT", "instance_faults", instance_uuid=instance_uuid)
    if tracer is not None:
        tracer.record_here(
            "fault",
            name="instance_fault",
            instance_uuid=instance_uuid,
            detail={"code": code, "message": message[:255]},
        )
