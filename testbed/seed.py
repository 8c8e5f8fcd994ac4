"""Seed a cloud's store from a topology: identity, flavors, images, networks, volumes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from testbed.compute.models import Flavor
from testbed.service import Runtime
from testbed.topology import Topology

__all__ = ["seed_flavors", "seed_topology"]


def seed_topology(runtime: Runtime, topology: Topology) -> None:
    """Everything a topology declares, in dependency order; idempotent."""
    from testbed.identity.seed import project_ids_by_name, seed_identity
    from testbed.image.seed import seed_image
    from testbed.network.seed import seed_network
    from testbed.volume.seed import seed_volume

    seed_identity(runtime, topology.identity)
    projects = project_ids_by_name(runtime)
    seed_flavors(runtime, topology.flavors)
    seed_image(runtime, [_with_owner(i, projects) for i in topology.images])
    seed_network(runtime, [_with_owner(n, projects) for n in topology.networks])
    seed_volume(runtime, [_with_owner(v, projects) for v in topology.volumes])


def _with_owner(spec: dict[str, Any], projects: dict[str, str]) -> dict[str, Any]:
    """Resolve a ``project: <name>`` into ``project_id``."""
    spec = dict(spec)
    name = spec.pop("project", None)
    if name is not None:
        if name not in projects:
            raise ValueError(
                f"{spec.get('name')}: unknown project {name!r}; known: {sorted(projects)}"
            )
        spec["project_id"] = projects[name]
    return spec


def seed_flavors(
    runtime: Runtime, flavors: tuple[dict[str, Any], ...] | list[dict[str, Any]]
) -> None:
    """Create the flavors that do not exist yet (``ram`` in MiB, ``disk`` in GiB)."""
    with runtime.store.session() as session:
        existing = set(session.scalars(select(Flavor.flavorid)))
        for spec in flavors:
            flavorid = str(spec.get("id") or spec["name"])
            if flavorid in existing:
                continue
            session.add(
                Flavor(
                    flavorid=flavorid,
                    name=spec["name"],
                    vcpus=int(spec["vcpus"]),
                    memory_mb=int(spec["ram"]),
                    root_gb=int(spec.get("disk", 0)),
                    ephemeral_gb=int(spec.get("ephemeral", 0)),
                    swap=int(spec.get("swap", 0)),
                    is_public=bool(spec.get("is_public", True)),
                    description=spec.get("description"),
                    extra_specs={
                        str(k): str(v) for k, v in (spec.get("extra_specs") or {}).items()
                    },
                )
            )
