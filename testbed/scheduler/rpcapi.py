"""RPC client of the scheduler (topic ``scheduler``)."""

from __future__ import annotations

from typing import Any

from testbed.context import RequestContext
from testbed.rpc import RpcClient


class SchedulerAPI(RpcClient):
    """What the conductor asks of the scheduler."""

    topic = "scheduler"

    def select_destinations(
        self,
        ctx: RequestContext,
        request_spec: dict[str, Any],
        instance_uuids: list[str],
        *,
        return_alternates: bool = True,
    ) -> list[list[dict[str, Any]]]:
        """Pick a host for each instance and claim its resources (allocations) there.

        Returns, per instance, a list of selections ``{host, node, node_uuid}``: the
        chosen one first, then alternates (not claimed) for rescheduling.  Raises
        ``NoValidHost`` (claims made for earlier instances of the request are undone).
        """
        result: list[list[dict[str, Any]]] = self._call(
            ctx,
            "select_destinations",
            request_spec=request_spec,
            instance_uuids=instance_uuids,
            return_alternates=return_alternates,
        )
        return result
