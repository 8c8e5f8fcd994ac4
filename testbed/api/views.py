"""How a server looks in the compute API, per microversion and per role.

Complete enough for openstacksdk's Server resource and ``openstack server show``: Nova's
base attributes, the OS-EXT-* extensions (OS-EXT-SRV-ATTR:* only for admins), the
flavor as a link (< 2.47) or embedded (>= 2.47), and the fields later microversions add.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from testbed.api.common import at_least, bookmark_link, iso_micro, iso_seconds, links
from testbed.compute.api_hosts import COMPUTE_BINARY, host_status
from testbed.compute.models import (
    BlockDeviceMapping,
    Instance,
    InstanceFault,
    ServerGroupMember,
    Service,
)
from testbed.compute.states import status_from_state
from testbed.web.app import ApiRequest

__all__ = [
    "ServerExtras",
    "host_id",
    "instance_name",
    "load_extras",
    "server_summary",
    "server_view",
]

_PROGRESS_STATUSES = {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
_FAULT_STATUSES = {"ERROR", "DELETED"}


@dataclass
class ServerExtras:
    """What a server's view needs beyond its row."""

    volumes: list[tuple[str, bool]] = field(default_factory=list)
    fault: InstanceFault | None = None
    service: Service | None = None
    groups: list[str] = field(default_factory=list)


def instance_name(uuid: str) -> str:
    """The hypervisor's name of the guest (OS-EXT-SRV-ATTR:instance_name)."""
    return f"instance-{uuid[:8]}"


def host_id(project_id: str, host: str | None) -> str:
    """Nova's opaque ``hostId``: sha224 of project id + host ("" without a host)."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def load_extras(req: ApiRequest, instances: list[Instance]) -> dict[str, ServerExtras]:
    """Volumes, latest fault, host service and groups of each instance, in one session."""
    uuids = [i.uuid for i in instances]
    hosts = {i.host for i in instances if i.host}
    extras: dict[str, ServerExtras] = defaultdict(ServerExtras)
    if not uuids:
        return extras
    with req.runtime.store.session() as session:
        for bdm in session.scalars(
            select(BlockDeviceMapping)
            .where(
                BlockDeviceMapping.instance_uuid.in_(uuids),
                BlockDeviceMapping.destination_type == "volume",
            )
            .order_by(BlockDeviceMapping.id)
        ):
            if bdm.volume_id:
                extras[bdm.instance_uuid].volumes.append((bdm.volume_id, bdm.delete_on_termination))
        for fault in session.scalars(
            select(InstanceFault)
            .where(InstanceFault.instance_uuid.in_(uuids))
            .order_by(InstanceFault.id)
        ):
            extras[fault.instance_uuid].fault = fault
        services = {
            s.host: s
            for s in session.scalars(
                select(Service).where(Service.host.in_(hosts), Service.binary == COMPUTE_BINARY)
            )
        }
        for member in session.scalars(
            select(ServerGroupMember).where(ServerGroupMember.instance_uuid.in_(uuids))
        ):
            extras[member.instance_uuid].groups.append(member.group_uuid)
    for instance in instances:
        if instance.host:
            extras[instance.uuid].service = services.get(instance.host)
    return extras


def server_summary(req: ApiRequest, instance: Instance) -> dict[str, Any]:
    """The entry of GET /servers: id, name, links."""
    return {
        "id": instance.uuid,
        "name": instance.display_name,
        "links": links(req, "servers", instance.uuid),
    }


def _image(req: ApiRequest, instance: Instance) -> Any:
    if not instance.image_ref:
        return ""
    return {"id": instance.image_ref, "links": bookmark_link(req, "images", instance.image_ref)}


def _flavor(req: ApiRequest, instance: Instance) -> dict[str, Any]:
    flavor = instance.flavor or {}
    if not at_least(req, "2.47"):
        flavor_id = str(flavor.get("id", ""))
        return {"id": flavor_id, "links": bookmark_link(req, "flavors", flavor_id)}
    return {
        "vcpus": flavor.get("vcpus", 0),
        "ram": flavor.get("memory_mb", 0),
        "disk": flavor.get("root_gb", 0),
        "ephemeral": flavor.get("ephemeral_gb", 0),
        "swap": flavor.get("swap", 0),
        "original_name": flavor.get("name", ""),
        "extra_specs": dict(flavor.get("extra_specs") or {}),
    }


def _addresses(instance: Instance) -> dict[str, list[dict[str, Any]]]:
    addresses: dict[str, list[dict[str, Any]]] = {}
    for vif in instance.network_info or []:
        entries = addresses.setdefault(str(vif.get("network_name") or vif.get("network_id")), [])
        for ip in vif.get("fixed_ips", []):
            entries.append(
                {
                    "version": ip.get("version", 4),
                    "addr": ip.get("ip_address"),
                    "OS-EXT-IPS:type": ip.get("type", "fixed"),
                    "OS-EXT-IPS-MAC:mac_addr": vif.get("mac_address"),
                }
            )
    return addresses


def _fault(req: ApiRequest, fault: InstanceFault) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": fault.code,
        "created": iso_seconds(fault.created_at),
        "message": fault.message,
    }
    if req.ctx.is_admin or fault.code != 500:
        body["details"] = fault.details
    return body


def server_view(
    req: ApiRequest, instance: Instance, extras: ServerExtras, *, show: bool = False
) -> dict[str, Any]:
    """The full view of a server (GET /servers/{id}, /servers/detail)."""
    status = status_from_state(instance.vm_state, instance.task_state)
    service = extras.service
    zone = instance.availability_zone or (service.availability_zone if service else "") or ""
    server: dict[str, Any] = {
        "id": instance.uuid,
        "name": instance.display_name,
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata_ or {}),
        "hostId": host_id(instance.project_id, instance.host),
        "image": _image(req, instance),
        "flavor": _flavor(req, instance),
        "created": iso_seconds(instance.created_at),
        "updated": iso_seconds(instance.updated_at or instance.created_at),
        "addresses": _addresses(instance),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": links(req, "servers", instance.uuid),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": zone,
        "config_drive": "",
        "key_name": instance.key_name,
        "OS-SRV-USG:launched_at": iso_micro(instance.launched_at),
        "OS-SRV-USG:terminated_at": iso_micro(instance.terminated_at),
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "os-extended-volumes:volumes_attached": _volumes(req, extras),
    }
    if instance.network_info:
        server["security_groups"] = [{"name": "default"}]
    if status in _PROGRESS_STATUSES:
        server["progress"] = instance.progress or 0
    if status in _FAULT_STATUSES and extras.fault is not None:
        server["fault"] = _fault(req, extras.fault)
    _add_admin_attributes(req, instance, server)
    _add_versioned_attributes(req, instance, extras, server, show=show)
    return server


def _volumes(req: ApiRequest, extras: ServerExtras) -> list[dict[str, Any]]:
    if at_least(req, "2.3"):
        return [{"id": v, "delete_on_termination": d} for v, d in extras.volumes]
    return [{"id": v} for v, _ in extras.volumes]


def _add_admin_attributes(req: ApiRequest, instance: Instance, server: dict[str, Any]) -> None:
    if at_least(req, "2.90"):
        server["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
    if not req.ctx.is_admin:
        return
    server["OS-EXT-SRV-ATTR:host"] = instance.host
    server["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
    server["OS-EXT-SRV-ATTR:instance_name"] = instance_name(instance.uuid)
    if at_least(req, "2.3"):
        server.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
                "OS-EXT-SRV-ATTR:hostname": instance.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": instance.root_device_name,
                "OS-EXT-SRV-ATTR:user_data": instance.user_data,
            }
        )


def _add_versioned_attributes(
    req: ApiRequest,
    instance: Instance,
    extras: ServerExtras,
    server: dict[str, Any],
    *,
    show: bool,
) -> None:
    if at_least(req, "2.9"):
        server["locked"] = bool(instance.locked)
    if at_least(req, "2.16") and req.ctx.is_admin:
        now = req.runtime.clock.now()
        down_time = req.runtime.config.service_down_time
        server["host_status"] = host_status(extras.service, now, down_time) if instance.host else ""
    if at_least(req, "2.19"):
        server["description"] = instance.description
    if at_least(req, "2.26"):
        server["tags"] = []
    if at_least(req, "2.63"):
        server["trusted_image_certificates"] = None
    if at_least(req, "2.71") and show:
        server["server_groups"] = list(extras.groups)
    if at_least(req, "2.73"):
        server["locked_reason"] = None
    if at_least(req, "2.96"):
        server["pinned_availability_zone"] = None
