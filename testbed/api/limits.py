"""/limits: the caller's (or, for admins, ``tenant_id``'s) absolute limits and usage."""

from __future__ import annotations

from typing import Any

from testbed.api.common import at_least, require_admin
from testbed.api.routing import RouteTable
from testbed.compute import api_quota
from testbed.web.app import ApiRequest

__all__ = ["routes"]

routes = RouteTable()


@routes.route("/v2.1/limits", ["GET"])
def show_limits(req: ApiRequest) -> tuple[int, Any]:
    """GET /limits."""
    project_id = req.ctx.project_id or ""
    wanted = req.query.get("tenant_id")
    if wanted and wanted != project_id:
        require_admin(req, "os_compute_api:limits:other_project")
        project_id = wanted
    with req.runtime.store.session() as session:
        limits = api_quota.project_limits(session, req.runtime.config, project_id)
        used = api_quota.usages(session, project_id)
    absolute: dict[str, Any] = {
        "maxServerMeta": limits["metadata_items"],
        "maxTotalInstances": limits["instances"],
        "maxTotalCores": limits["cores"],
        "maxTotalRAMSize": limits["ram"],
        "maxTotalKeypairs": limits["key_pairs"],
        "maxServerGroups": limits["server_groups"],
        "maxServerGroupMembers": limits["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if not at_least(req, "2.36"):
        absolute.update(
            {
                "maxSecurityGroups": 10,
                "maxSecurityGroupRules": 20,
                "maxTotalFloatingIps": 10,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
            }
        )
    if not at_least(req, "2.39"):
        absolute["maxImageMeta"] = limits["metadata_items"]
    if not at_least(req, "2.57"):
        absolute["maxPersonality"] = limits["injected_files"]
        absolute["maxPersonalitySize"] = limits["injected_file_content_bytes"]
    return 200, {"limits": {"rate": [], "absolute": absolute}}
