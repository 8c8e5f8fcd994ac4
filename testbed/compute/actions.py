"""Instance action events and instance faults (os-instance-actions, the server's fault).

The api records an :class:`InstanceAction` per request (``create``, ``stop``...); each
service that works on it adds :class:`InstanceActionEvent` rows (``compute_stop_instance``,
``conductor_schedule_and_build_instances``) with a result of ``Success`` or ``Error``.  As
in Nova, a failed event marks its action's ``message`` ``Error``.  These helpers take an
open session so callers can record events in the same transaction as the state change.
Every step of every task records events, so they write with Core statements (traced as
a flush would trace them).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from testbed.compute.models import InstanceAction, InstanceActionEvent, InstanceFault
from testbed.store.db import Store
from testbed.trace import Tracer

__all__ = ["ERROR", "SUCCESS", "add_fault", "fault_message", "finish_event", "start_event"]

LOG = logging.getLogger(__name__)

SUCCESS = "Success"
ERROR = "Error"


_ACTIONS = cast(Table, InstanceAction.__table__)
_EVENTS = cast(Table, InstanceActionEvent.__table__)
_ACTION_ID = (
    select(_ACTIONS.c.id)
    .where(
        _ACTIONS.c.instance_uuid == bindparam("instance_uuid"),
        _ACTIONS.c.request_id == bindparam("request_id"),
    )
    .order_by(_ACTIONS.c.id.desc())
    .limit(1)
)
_OPEN_EVENT_ID = (
    select(_EVENTS.c.id)
    .where(
        _EVENTS.c.action_id == bindparam("action_id"),
        _EVENTS.c.event == bindparam("event"),
        _EVENTS.c.finish_time.is_(None),
    )
    .order_by(_EVENTS.c.id.desc())
    .limit(1)
)
_INSERT_EVENT = insert(_EVENTS)
_FINISH_EVENT = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("event_id"))
    .values(
        finish_time=bindparam("new_finish_time"),
        result=bindparam("new_result"),
        details=bindparam("new_details"),
    )
)
_FINISH_ACTION = (
    update(_ACTIONS)
    .where(_ACTIONS.c.id == bindparam("action_id"))
    .values(finish_time=bindparam("now"), updated_at=bindparam("now"))
)
_FAIL_ACTION = _FINISH_ACTION.values(message=ERROR)


def _action_id(session: Session, instance_uuid: str, request_id: str) -> tuple[Connection, Any]:
    """The session's connection and the id of the request's action on the instance (the
    latest, if several), or None."""
    session.flush()  # an action added in this transaction must be found
    connection = session.connection()
    found = connection.execute(
        _ACTION_ID, {"instance_uuid": instance_uuid, "request_id": request_id}
    ).scalar()
    return connection, found


def start_event(
    session: Session,
    instance_uuid: str,
    request_id: str,
    event: str,
    *,
    now: float,
    host: str | None,
) -> None:
    """Open an event of the action the request recorded (skipped if there is none)."""
    connection, action_id = _action_id(session, instance_uuid, request_id)
    if action_id is None:
        LOG.debug("no action for %s in %s; event %s not recorded", instance_uuid, request_id, event)
        return
    connection.execute(
        _INSERT_EVENT, {"action_id": action_id, "event": event, "start_time": now, "host": host}
    )
    Store.of(session).trace_write("INSERT", "instance_action_events")


def finish_event(
    session: Session,
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
    connection, action_id = _action_id(session, instance_uuid, request_id)
    if action_id is None:
        return
    store = Store.of(session)
    event_id = connection.execute(_OPEN_EVENT_ID, {"action_id": action_id, "event": event}).scalar()
    finished = {"finish_time": now, "result": result, "details": details}
    if event_id is None:
        connection.execute(
            _INSERT_EVENT,
            {"action_id": action_id, "event": event, "start_time": now, "host": host, **finished},
        )
        store.trace_write("INSERT", "instance_action_events")
    else:
        connection.execute(
            _FINISH_EVENT,
            {
                "event_id": event_id,
                "new_finish_time": now,
                "new_result": result,
                "new_details": details,
            },
        )
        store.trace_write("UPDATE", "instance_action_events")
    connection.execute(
        _FAIL_ACTION if result == ERROR else _FINISH_ACTION, {"action_id": action_id, "now": now}
    )
    store.trace_write("UPDATE", "instance_actions", instance_uuid=instance_uuid)


def fault_message(exc: BaseException) -> str:
    """The message a fault shows for an exception (Nova truncates at 255)."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message)[:255]


def add_fault(
    session: Session,
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
    session.add(
        InstanceFault(
            instance_uuid=instance_uuid,
            code=code,
            message=message[:255],
            details=details,
            host=host,
            created_at=now,
        )
    )
    if tracer is not None:
        tracer.record_here(
            "fault",
            name="instance_fault",
            instance_uuid=instance_uuid,
            detail={"code": code, "message": message[:255]},
        )
