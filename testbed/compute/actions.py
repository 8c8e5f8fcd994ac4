"""Instance action events and instance faults (os-instance-actions, the server's fault).

The api records an :class:`InstanceAction` per request (``create``, ``stop``...); each
service that works on it adds :class:`InstanceActionEvent` rows (``compute_stop_instance``,
``conductor_schedule_and_build_instances``) with a result of ``Success`` or ``Error``.  As
in Nova, a failed event marks its action's ``message`` ``Error``.  These helpers take an
open session so callers can record events in the same transaction as the state change.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from testbed.compute.models import InstanceAction, InstanceActionEvent, InstanceFault
from testbed.context import current_context, current_service
from testbed.trace import Tracer

__all__ = ["ERROR", "SUCCESS", "add_fault", "fault_message", "finish_event", "start_event"]

LOG = logging.getLogger(__name__)

SUCCESS = "Success"
ERROR = "Error"


def _action(session: Session, instance_uuid: str, request_id: str) -> InstanceAction | None:
    return session.execute(
        select(InstanceAction)
        .where(
            InstanceAction.instance_uuid == instance_uuid,
            InstanceAction.request_id == request_id,
        )
        .order_by(InstanceAction.id.desc())
        .limit(1)
    ).scalar_one_or_none()


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
    action = _action(session, instance_uuid, request_id)
    if action is None:
        LOG.debug("no action for %s in %s; event %s not recorded", instance_uuid, request_id, event)
        return
    session.add(InstanceActionEvent(action=action, event=event, start_time=now, host=host))


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
    action = _action(session, instance_uuid, request_id)
    if action is None:
        return
    row = session.execute(
        select(InstanceActionEvent)
        .where(
            InstanceActionEvent.action_id == action.id,
            InstanceActionEvent.event == event,
            InstanceActionEvent.finish_time.is_(None),
        )
        .order_by(InstanceActionEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        row = InstanceActionEvent(action=action, event=event, start_time=now, host=host)
        session.add(row)
    row.finish_time = now
    row.result = result
    row.details = details
    action.finish_time = now
    action.updated_at = now
    if result == ERROR:
        action.message = ERROR


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
        ctx = current_context()
        tracer.record(
            "fault",
            request_id=ctx.request_id if ctx else "req-internal",
            source=current_service(),
            name="instance_fault",
            instance_uuid=instance_uuid,
            detail={"code": code, "message": message[:255]},
        )
