"""Drift the power-state table does not cover: guests whose instance is gone.

``cleanup_running_deleted_instances`` is Nova's ``_cleanup_running_deleted_instances``
periodic task (every ``running_deleted_instance_poll_interval`` clock seconds): a guest
defined on this hypervisor whose instance row is deleted (for longer than
``running_deleted_instance_timeout``) is handled per ``running_deleted_instance_action``:

- ``noop``: nothing;
- ``log``: a warning (and a ``log`` trace event);
- ``shutdown``: the guest is powered off (kept defined);
- ``reap``: the guest is destroyed and its local disks deleted.

How such a guest comes about: a delete while the host's compute service was down (the
API deletes the row locally), or a force delete whose guest clean-up failed.  A
shutdown or reap is recorded as an instance action (``stop`` / ``delete``) with an event
``compute_cleanup_running_deleted_instances`` whose details give the reason.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from testbed.compute.actions import ERROR, SUCCESS, fault_message, finish_event
from testbed.compute.models import Instance
from testbed.compute.records import instance_payload
from testbed.context import RequestContext, current_service, service_scope
from testbed.virt.driver import GuestNotFound

if TYPE_CHECKING:
    from testbed.compute.manager import ComputeManager

__all__ = ["ACTIONS", "CLEANUP_EVENT", "RunningDeletedCleaner"]

LOG = logging.getLogger(__name__)

CLEANUP_EVENT = "compute_cleanup_running_deleted_instances"
ACTIONS = ("noop", "log", "shutdown", "reap")


class RunningDeletedCleaner:
    """Finds and handles guests of deleted instances on one host."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager
        self.runtime = manager.runtime
        self.host = manager.host
        #: the instances the last run found
        self.last_found: list[str] = []

    def cleanup_running_deleted_instances(self) -> None:
        """The periodic task (the uuids it found are kept in :attr:`last_found`)."""
        action = self.runtime.config.running_deleted_instance_action
        self.last_found = []
        if action == "noop":
            return
        if action not in ACTIONS:
            raise ValueError(
                f"Unrecognized value {action!r} for running_deleted_instance_action; "
                f"expected one of {ACTIONS}"
            )
        ctx = RequestContext.admin()
        found: list[str] = []
        with service_scope(f"compute:{self.host}", ctx):
            for inst in self._running_deleted():
                found.append(inst["uuid"])
                self._handle(ctx, inst, action)
        self.last_found = found

    def _running_deleted(self) -> list[dict[str, Any]]:
        """Deleted instances (old enough) with a guest defined on this hypervisor."""
        try:
            on_driver = set(self.manager.driver.list_instance_uuids())
        except Exception as exc:
            LOG.warning(
                "running deleted instances on %s: hypervisor unavailable: %s", self.host, exc
            )
            return []
        if not on_driver:
            return []
        now = self.runtime.clock.now()
        timeout = self.runtime.config.running_deleted_instance_timeout
        with self.runtime.store.session() as session:
            rows = session.scalars(
                select(Instance).where(Instance.uuid.in_(on_driver), Instance.deleted.is_(True))
            ).all()
            return [
                instance_payload(row)
                for row in rows
                if row.deleted_at is None or now - row.deleted_at >= timeout
            ]

    def _handle(self, ctx: RequestContext, inst: dict[str, Any], action: str) -> None:
        uuid = inst["uuid"]
        name = f"instance-{uuid}"
        if action == "log":
            message = (
                f"Detected instance with name label '{name}' which is marked as DELETED "
                "but still present on host."
            )
            LOG.warning(message)
            self._trace(ctx, uuid, message)
            return
        driver = self.manager.driver
        if action == "shutdown":
            reason = (
                f"Powering off instance with name label '{name}' which is marked as "
                "DELETED but still present on host."
            )
            api_action = "stop"
        else:
            reason = (
                f"Destroying instance with name label '{name}' which is marked as "
                "DELETED but still present on host."
            )
            api_action = "delete"
        LOG.info(reason)
        result, details = SUCCESS, reason
        with self.manager.locks.hold(uuid):
            try:
                if api_action == "stop":
                    driver.power_off(inst, False)
                else:
                    driver.destroy(inst, inst["network_info"], None)
            except GuestNotFound:
                pass
            except Exception as exc:
                LOG.warning("Periodic cleanup failed to delete instance: %s", exc)
                result, details = ERROR, f"{reason} Failed: {fault_message(exc)}"
        self._record(ctx, uuid, api_action, result, details)
        self._trace(ctx, uuid, details)

    def _record(
        self, ctx: RequestContext, uuid: str, action: str, result: str, details: str
    ) -> None:
        from testbed.compute.api import record_action

        now = self.runtime.clock.now()
        with self.runtime.store.session() as session:
            record_action(session, ctx, uuid, action, now)
            session.flush()
            finish_event(
                session,
                uuid,
                ctx.request_id,
                CLEANUP_EVENT,
                now=now,
                result=result,
                host=self.host,
                details=details,
            )

    def _trace(self, ctx: RequestContext, uuid: str, message: str) -> None:
        self.runtime.tracer.record(
            "log",
            request_id=ctx.request_id,
            source=current_service(),
            name="running_deleted_instance",
            instance_uuid=uuid,
            detail={
                "message": message,
                "action": self.runtime.config.running_deleted_instance_action,
            },
        )
