"""Seed the volume service from a topology file's ``volumes`` section."""

from __future__ import annotations

from typing import Any

from testbed.service import Runtime
from testbed.volume.volumes import VolumeRegistry

__all__ = ["seed_volume"]


def seed_volume(runtime: Runtime, volumes: list[dict[str, Any]]) -> None:
    """Insert each volume as ``available`` (its storage made through ``runtime.virt``).

    An entry is ``{id, name, size, project_id (resolved by the caller), description,
    availability_zone, bootable, multiattach, metadata}``; seeding is
    idempotent: a volume whose id exists is left as it is.
    """
    registry = VolumeRegistry(runtime)
    for spec in volumes or []:
        registry.seed(spec)
