"""Creating servers: every check before anything is created, then one transaction, then
the conductor (Nova's ``compute.api.API.create`` and ``_provision_instances``).

Checks, in Nova's order: the availability zone (and the admin-only ``az:host`` form), the
flavor, the image (active, big enough for the flavor), block devices (boot from volume),
networks, key name, server group, quota.  Every failure is a client error and leaves the
store untouched.  Then the instances, their block device mappings, server-group
membership and a ``create`` instance action each are written in one transaction, and
``ConductorAPI.build_instances`` is cast with the request spec.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, insert, select

from testbed.compute import api_quota
from testbed.compute.api import record_action
from testbed.compute.api_blockdev import BlockDevicePlan, plan_block_devices
from testbed.compute.api_hosts import COMPUTE_BINARY, compute_host_exists
from testbed.compute.models import BlockDeviceMapping as BDM
from testbed.compute.models import (
    Flavor,
    Instance,
    ServerGroup,
    ServerGroupMember,
    Service,
    flavor_totals,
)
from testbed.compute.states import BUILDING, power_state, task_states
from testbed.conductor.rpcapi import ConductorAPI
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Forbidden, NotFound
from testbed.image.rpcapi import ImageAPI
from testbed.network.rpcapi import NetworkAPI
from testbed.service import Runtime
from testbed.store.base import new_uuid
from testbed.store.db import Transaction, core
from testbed.volume.rpcapi import VolumeAPI

__all__ = ["BuildRequest", "BuildResult", "ServerBuilder", "flavor_row", "flavor_snapshot"]

GIB = 1024**3


@dataclass
class BuildRequest:
    """A server create, as parsed and schema-checked by the HTTP layer."""

    name: str
    flavor_ref: str
    image_ref: str | None
    networks: Any = "auto"
    block_devices: list[dict[str, Any]] = field(default_factory=list)
    availability_zone: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    user_data: str | None = None
    min_count: int = 1
    max_count: int = 1
    key_name: str | None = None
    description: str | None = None
    scheduler_hints: dict[str, Any] = field(default_factory=dict)
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    hostname: str | None = None


@dataclass
class BuildResult:
    """What was created: the instances (in launch order) and their reservation."""

    instance_uuids: list[str]
    reservation_id: str
    admin_password: str


_ZONE_OPEN = (
    select(Service.id)
    .where(
        Service.binary == COMPUTE_BINARY,
        Service.availability_zone == bindparam("zone"),
        Service.disabled.is_(False),
    )
    .limit(1)
)
_FLAVORS = cast(Table, Flavor.__table__)
_GROUPS = cast(Table, ServerGroup.__table__).c
_SERVER_GROUP = select(_GROUPS.uuid, _GROUPS.policy, _GROUPS.rules, _GROUPS.project_id).where(
    _GROUPS.uuid == bindparam("uuid")
)
_INSERT_INSTANCE = insert(cast(Table, Instance.__table__))
_INSERT_BDM = insert(cast(Table, BDM.__table__))
_INSERT_MEMBER = insert(cast(Table, ServerGroupMember.__table__))
# What a create needs of the flavor (the snapshot, and whether the caller may use it).
_FLAVOR = select(
    *(
        _FLAVORS.c[name]
        for name in (
            "flavorid",
            "name",
            "vcpus",
            "memory_mb",
            "root_gb",
            "ephemeral_gb",
            "swap",
            "extra_specs",
            "is_public",
            "disabled",
        )
    )
).where(_FLAVORS.c.flavorid == bindparam("flavorid"))


def flavor_row(tx: Transaction, flavor_id: str) -> Row[Any] | None:
    """The flavor whose API id is ``flavor_id``: the columns of its snapshot, with
    ``is_public`` and ``disabled`` (None if there is none)."""
    return core(tx).execute(_FLAVOR, {"flavorid": flavor_id}).first()


def flavor_snapshot(flavor: Flavor | Row[Any]) -> dict[str, Any]:
    """The flavor as an instance keeps it (from the model or a row of its columns)."""
    return {
        "id": flavor.flavorid,
        "name": flavor.name,
        "vcpus": flavor.vcpus,
        "memory_mb": flavor.memory_mb,
        "root_gb": flavor.root_gb,
        "ephemeral_gb": flavor.ephemeral_gb,
        "swap": flavor.swap,
        "extra_specs": dict(flavor.extra_specs or {}),
    }


def _random_text(alphabet: str, length: int) -> str:
    """``length`` random characters of ``alphabet``, from one read of the system's random
    source (a ``secrets.choice`` per character is a system call each)."""
    data = secrets.token_bytes(2 * length)
    return "".join(
        alphabet[int.from_bytes(data[i : i + 2], "big") % len(alphabet)]
        for i in range(0, 2 * length, 2)
    )


def _last_segment(ref: str) -> str:
    """``http://.../flavors/1`` -> ``1`` (Nova accepts links as references)."""
    return ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else ref


def _hostname(name: str) -> str:
    """Nova's sanitised hostname: lower case, [a-z0-9-], at most 63 characters."""
    text = re.sub(r"[^\w.-]+", "-", name.lower().replace("_", "-"))
    text = re.sub(r"[.-]+$|^[.-]+", "", text.replace(".", "-"))
    return (text or "server")[:63]


@dataclass
class _Placement:
    zone: str | None
    force_hosts: list[str]
    force_nodes: list[str]


@dataclass
class _Prepared:
    flavor: dict[str, Any]
    blockdevs: BlockDevicePlan
    group: dict[str, Any] | None
    placement: _Placement
    requested_networks: Any


class ServerBuilder:
    """POST /servers behind the HTTP layer."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.image_rpc = ImageAPI(runtime.bus)
        self.network_rpc = NetworkAPI(runtime.bus)
        self.volume_rpc = VolumeAPI(runtime.bus)
        self.conductor_rpc = ConductorAPI(runtime.bus)

    def create(self, ctx: RequestContext, request: BuildRequest) -> BuildResult:
        """Check everything, record the instances, cast the conductor."""
        if request.min_count > request.max_count:
            raise BadRequest("min_count must be <= max_count")
        with self.runtime.store.transaction() as connection:
            placement = self._placement(connection, ctx, request.availability_zone)
            flavor = self._flavor(connection, ctx, request.flavor_ref)
            group = self._server_group(connection, ctx, request.scheduler_hints)
            config = self.runtime.config
            limits = api_quota.project_limits(connection, config, ctx.project_id or "")
            group_limits = (
                api_quota.project_limits(connection, config, group["project_id"])
                if group is not None and group["project_id"] != ctx.project_id
                else limits
            )
        blockdevs = plan_block_devices(
            ctx,
            request.block_devices,
            _last_segment(request.image_ref) if request.image_ref else None,
            request.max_count,
            self.volume_rpc,
            self.image_rpc,
        )
        image = self._image(ctx, blockdevs.root_image_id, flavor, blockdevs.is_bfv)
        requested_networks = self._networks(ctx, request.networks, request.max_count)
        if 0 <= limits["metadata_items"] < len(request.metadata):
            raise Forbidden(f"Maximum number of metadata items exceeds {limits['metadata_items']}")
        if request.key_name is not None:
            raise BadRequest("Invalid key_name provided.")
        with self.runtime.store.transaction() as connection:
            count = api_quota.allowed_instances(
                connection,
                limits,
                ctx.project_id or "",
                flavor,
                request.min_count,
                request.max_count,
            )
            if group is not None:
                api_quota.check_server_group_members(connection, group_limits, group["uuid"], count)
            reservation_id = "r-" + _random_text(string.ascii_lowercase + string.digits, 8)
            uuids = self._record(
                connection,
                ctx,
                request,
                _Prepared(flavor, blockdevs, group, placement, requested_networks),
                reservation_id,
                count,
            )
        spec = {
            "flavor": flavor,
            "image": None if blockdevs.is_bfv else image,
            "availability_zone": placement.zone,
            "project_id": ctx.project_id,
            "user_id": ctx.user_id,
            "num_instances": len(uuids),
            "scheduler_hints": request.scheduler_hints,
            "requested_networks": requested_networks,
            "block_device_mappings": blockdevs.mappings,
            "is_bfv": blockdevs.is_bfv,
            "server_group": (
                {"uuid": group["uuid"], "policy": group["policy"], "rules": group["rules"]}
                if group
                else None
            ),
            "force_hosts": placement.force_hosts,
            "force_nodes": placement.force_nodes,
        }
        self.conductor_rpc.build_instances(ctx, uuids, spec)
        password = _random_text(string.ascii_letters + string.digits, 12)
        return BuildResult(uuids, reservation_id, password)

    # -- checks ----------------------------------------------------------------------------
    def _placement(
        self, connection: Connection, ctx: RequestContext, requested: str | None
    ) -> _Placement:
        zone, host, node = requested, None, None
        if requested and ":" in requested:
            parts = requested.count(":")
            if parts == 1:
                zone, host = requested.split(":")
            elif parts == 2 and "::" in requested:
                zone, node = requested.split("::")
            elif parts == 2:
                zone, host, node = requested.split(":")
            else:
                raise BadRequest("Unable to parse availability_zone")
        zone = zone or None
        if (host or node) and not ctx.is_admin:
            raise Forbidden(
                "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."
            )
        if zone is not None and connection.scalar(_ZONE_OPEN, {"zone": zone}) is None:
            raise BadRequest("The requested availability zone is not available")
        if host and not compute_host_exists(connection, host):
            raise BadRequest(f"Compute host {host} could not be found.")
        return _Placement(zone, [host] if host else [], [node] if node else [])

    def _flavor(self, connection: Connection, ctx: RequestContext, ref: str) -> dict[str, Any]:
        flavor_id = _last_segment(ref)
        flavor = flavor_row(connection, flavor_id)
        hidden = flavor is not None and not flavor.is_public and not ctx.is_admin
        if flavor is None or flavor.disabled or hidden:
            raise BadRequest(f"Flavor {flavor_id} could not be found.")
        return flavor_snapshot(flavor)

    def _image(
        self, ctx: RequestContext, image_id: str | None, flavor: dict[str, Any], is_bfv: bool
    ) -> dict[str, Any] | None:
        if image_id is None:
            return None
        try:
            image = self.image_rpc.get_image(ctx, image_id)
        except NotFound:
            raise BadRequest(f"Image {image_id} could not be found.") from None
        if image.get("status", "active") != "active":
            raise BadRequest(f"Image {image_id} is not active.")
        if int(flavor["memory_mb"]) < int(image.get("min_ram") or 0):
            raise BadRequest("Flavor's memory is too small for requested image.")
        root_bytes = int(flavor["root_gb"]) * GIB
        if is_bfv:
            return image
        if root_bytes == 0 and not ctx.is_admin:
            raise Forbidden("Only volume-backed servers are allowed for flavors with zero disk.")
        size = int(image.get("size") or 0)
        if root_bytes and size > root_bytes:
            raise BadRequest(
                "Flavor's disk is too small for requested image. Flavor disk is "
                f"{root_bytes} bytes, image is {size} bytes."
            )
        min_disk = int(image.get("min_disk") or 0) * GIB
        if root_bytes and min_disk > root_bytes:
            raise BadRequest(
                "Flavor's disk is too small for requested image. Flavor disk is "
                f"{root_bytes} bytes, minimum required by image is {min_disk} bytes."
            )
        return image

    def _networks(self, ctx: RequestContext, networks: Any, max_count: int) -> Any:
        if networks in ("none", "auto"):
            requested: Any = networks
        else:
            requested = []
            for item in networks:
                entry = {k: item[k] for k in ("uuid", "port", "fixed_ip") if item.get(k)}
                if "uuid" not in entry and "port" not in entry:
                    raise BadRequest("Bad networks format: network uuid is not in proper format")
                if "port" in entry and max_count > 1:
                    raise BadRequest(
                        "Unable to launch multiple instances with a single configured "
                        "port ID. Please launch your instance one by one with different ports."
                    )
                requested.append(entry)
        if requested != "none":
            self.network_rpc.validate_networks(ctx, requested)
        return requested

    def _server_group(
        self, connection: Connection, ctx: RequestContext, hints: dict[str, Any]
    ) -> dict[str, Any] | None:
        group_id = hints.get("group")
        if not group_id:
            return None
        group = connection.execute(_SERVER_GROUP, {"uuid": group_id}).first()
        if group is None or (group.project_id != ctx.project_id and not ctx.is_admin):
            raise BadRequest(f"Instance group {group_id} could not be found.")
        return {
            "uuid": group.uuid,
            "policy": group.policy,
            "rules": dict(group.rules or {}),
            "project_id": group.project_id,
        }

    # -- the transaction -------------------------------------------------------------------
    def _record(
        self,
        connection: Connection,
        ctx: RequestContext,
        request: BuildRequest,
        prepared: _Prepared,
        reservation_id: str,
        count: int,
    ) -> list[str]:
        flavor, blockdevs, group = prepared.flavor, prepared.blockdevs, prepared.group
        now = self.runtime.clock.now()
        store = self.runtime.store
        uuids: list[str] = []
        for index in range(count):
            uuid = new_uuid()
            name = request.name if count == 1 else f"{request.name}-{index + 1}"
            hostname = request.hostname or _hostname(request.name)
            if count > 1:
                hostname = f"{hostname[:59]}-{index + 1}"
            state = {
                "vm_state": BUILDING,
                "task_state": task_states.SCHEDULING,
                "power_state": power_state.NOSTATE,
            }
            connection.execute(
                _INSERT_INSTANCE,
                {
                    "uuid": uuid,
                    "display_name": name,
                    "hostname": hostname,
                    "project_id": ctx.project_id or "",
                    "user_id": ctx.user_id or "",
                    "availability_zone": prepared.placement.zone,
                    "image_ref": "" if blockdevs.is_bfv else blockdevs.root_image_id,
                    "flavor": flavor,
                    **flavor_totals(flavor),
                    **state,
                    "metadata": dict(request.metadata),
                    "user_data": request.user_data,
                    "reservation_id": reservation_id,
                    "launch_index": index,
                    "access_ip_v4": request.access_ip_v4,
                    "access_ip_v6": request.access_ip_v6,
                    "requested_networks": prepared.requested_networks,
                    "description": request.description,
                    "created_at": now,
                },
            )
            store.trace_write("INSERT", "instances", instance_uuid=uuid, state=state)
            for mapping in blockdevs.mappings:
                connection.execute(
                    _INSERT_BDM, {**mapping, "instance_uuid": uuid, "created_at": now}
                )
                store.trace_write("INSERT", "block_device_mappings", instance_uuid=uuid)
            if group is not None:
                connection.execute(
                    _INSERT_MEMBER, {"group_uuid": group["uuid"], "instance_uuid": uuid}
                )
                store.trace_write("INSERT", "server_group_members", instance_uuid=uuid)
            record_action(connection, ctx, uuid, "create", now)
            uuids.append(uuid)
        return uuids
