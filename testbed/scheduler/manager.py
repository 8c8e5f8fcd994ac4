"""The scheduler's RPC endpoint: ``select_destinations`` (filters, weighers, claims).

For each instance of a request: read the hosts (once per request), drop those a filter
refuses, order the rest with the weighers, pick among the best ``host_subset_size``, and
claim the instance's resources there (trying the next host if a concurrent claim took
the room).  The other candidates that still fit become the instance's alternates (up to
``max_attempts - 1``, not claimed), which the conductor uses to reschedule a failed
build.  Forced hosts (``force_hosts``/``force_nodes``) skip the filters, as in Nova, but
never the claim.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import Counter
from typing import Any

from sqlalchemy import select

from testbed.compute.models import Instance, ServerGroupMember
from testbed.context import RequestContext
from testbed.exceptions import NoValidHost
from testbed.scheduler import claims
from testbed.scheduler.filters import FilterRequest, build_filters
from testbed.scheduler.host_state import HostState, HostStateLoader, Resources
from testbed.scheduler.weighers import build_weighers, weigh
from testbed.service import Runtime

__all__ = ["NOT_ENOUGH_HOSTS", "SchedulerManager"]

LOG = logging.getLogger(__name__)

NOT_ENOUGH_HOSTS = "There are not enough hosts available."


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class SchedulerManager:
    """Endpoint of the ``scheduler`` topic."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.filters = build_filters(runtime.config.enabled_filters)
        self.weighers = build_weighers(runtime.config)
        self.host_states = HostStateLoader(runtime.store, runtime.config)
        self._random = random.Random()

    def select_destinations(
        self,
        ctx: RequestContext,
        request_spec: dict[str, Any],
        instance_uuids: list[str],
        return_alternates: bool = True,
    ) -> list[list[dict[str, Any]]]:
        """Per instance: ``[chosen, *alternates]``, each ``{host, node, node_uuid,
        availability_zone}``; the chosen host's resources are claimed.  Raises
        ``NoValidHost`` (undoing this request's claims) when an instance fits nowhere."""
        config = self.runtime.config
        want = claims.resources_from_spec(request_spec)
        hosts = self.host_states.load(self.runtime.clock.now())
        group_hosts = self._group_hosts(request_spec)
        forced_hosts = _as_list(request_spec.get("force_hosts"))
        forced_nodes = _as_list(request_spec.get("force_nodes"))
        project_id = request_spec.get("project_id") or ctx.project_id
        selections: list[list[dict[str, Any]]] = []
        claimed: list[str] = []
        try:
            for uuid in instance_uuids:
                request = FilterRequest(spec=request_spec, want=want, group_hosts=group_hosts)
                if forced_hosts or forced_nodes:
                    candidates = [
                        h
                        for h in hosts
                        if (not forced_hosts or h.host in forced_hosts)
                        and (not forced_nodes or h.node in forced_nodes)
                    ]
                else:
                    candidates = hosts
                    for host_filter in self.filters:
                        if candidates and host_filter.applies(request):
                            candidates = host_filter.filter_all(candidates, request)
                # moves: never the hosts to ignore (the source); only the requested one
                ignored = set(_as_list(request_spec.get("ignore_hosts")))
                requested = _as_list(request_spec.get("requested_destination"))
                if ignored or requested:
                    candidates = [
                        h
                        for h in candidates
                        if h.host not in ignored and (not requested or h.host in requested)
                    ]
                ordered = self._ordered(candidates, request)
                chosen = self._claim_first(ordered, uuid, want, project_id)
                claimed.append(uuid)
                chosen.consume(want)
                group_hosts[chosen.host] += 1
                alternates: list[HostState] = []
                if return_alternates:
                    fitting = (h for h in ordered if h is not chosen and h.fits(want))
                    alternates = list(itertools.islice(fitting, max(config.max_attempts - 1, 0)))
                selections.append([_selection(h) for h in (chosen, *alternates)])
        except NoValidHost:
            self._undo(claimed)
            raise
        return selections

    # -- steps ----------------------------------------------------------------------------
    def _ordered(self, candidates: list[HostState], request: FilterRequest) -> list[HostState]:
        """Weighed best first, with a random pick among the best ``host_subset_size``."""
        ordered = weigh(candidates, request, self.weighers)
        subset = max(1, self.runtime.config.host_subset_size)
        if subset > 1 and len(ordered) > 1:
            pick = self._random.choice(ordered[:subset])
            ordered.remove(pick)
            ordered.insert(0, pick)
        return ordered

    def _claim_first(
        self, ordered: list[HostState], uuid: str, want: Resources, project_id: str | None
    ) -> HostState:
        """Claim on the first host that still has room (concurrent claims may have taken
        it since the read)."""
        runtime = self.runtime
        for host in ordered:
            with runtime.store.transaction() as connection:
                ok = claims.claim(
                    connection,
                    node_uuid=host.node_uuid,
                    host=host.host,
                    consumer_uuid=uuid,
                    want=want,
                    project_id=project_id,
                    tracer=runtime.tracer,
                )
            if ok:
                return host
            LOG.debug("claim for %s on %s lost a race; trying the next host", uuid, host.host)
        raise NoValidHost(reason=NOT_ENOUGH_HOSTS)

    def _group_hosts(self, request_spec: dict[str, Any]) -> Counter[str]:
        """Hosts running members of the request's server group (with member counts)."""
        group = request_spec.get("server_group") or {}
        group_uuid = group.get("uuid")
        if not group_uuid:
            return Counter()
        query = (
            select(Instance.host)
            .join(ServerGroupMember, ServerGroupMember.instance_uuid == Instance.uuid)
            .where(
                ServerGroupMember.group_uuid == group_uuid,
                Instance.deleted.is_(False),
                Instance.host.is_not(None),
            )
        )
        with self.runtime.store.transaction() as connection:
            return Counter(str(h) for h in connection.execute(query).scalars())

    def _undo(self, consumers: list[str]) -> None:
        if not consumers:
            return
        with self.runtime.store.transaction() as connection:
            for uuid in consumers:
                claims.release(connection, uuid, tracer=self.runtime.tracer)


def _selection(host: HostState) -> dict[str, Any]:
    return {
        "host": host.host,
        "node": host.node,
        "node_uuid": host.node_uuid,
        "availability_zone": host.availability_zone,
    }
