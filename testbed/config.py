"""Options of the cloud, with Nova's names and defaults where Nova has the option.

A topology file's ``config:`` section and the API of :class:`Config.with_overrides`
change them; unknown names are refused with the list of known ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Config", "ConfigError"]


class ConfigError(ValueError):
    """An unknown option or a value of the wrong type."""


@dataclass(frozen=True)
class Config:
    """Every option of the cloud."""

    # store and bus
    database_url: str = "sqlite://"
    transport_url: str = "memory://"
    control_exchange: str = "testbed"  # names the exchanges and queues on RabbitMQ
    rpc_response_timeout: float = 60.0
    # identity
    token_expiration: float = 3600.0
    # api
    max_microversion: str = "2.96"
    osapi_max_limit: int = 1000
    # services and health (nova.conf [DEFAULT])
    report_interval: float = 10.0
    service_down_time: float = 60.0
    # scheduler ([filter_scheduler], allocation ratios)
    enabled_filters: tuple[str, ...] = (
        "AvailabilityZoneFilter",
        "ComputeFilter",
        "ComputeCapabilitiesFilter",
        "ImagePropertiesFilter",
        "ServerGroupAntiAffinityFilter",
        "ServerGroupAffinityFilter",
        "ResourceFilter",
    )
    weighers: tuple[str, ...] = ("RAMWeigher", "CPUWeigher", "DiskWeigher")
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    host_subset_size: int = 1
    max_attempts: int = 3
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    # compute
    resize_confirm_window: float = 0.0
    allow_resize_to_same_host: bool = False
    sync_power_state_interval: float = 600.0
    running_deleted_instance_action: str = "reap"
    running_deleted_instance_poll_interval: float = 1800.0
    running_deleted_instance_timeout: float = 0.0
    repair_policy: str = "nova"
    instance_build_timeout: float = 0.0
    update_resources_interval: float = 60.0
    shutdown_timeout: float = 60.0
    shutdown_retry_interval: float = 10.0
    # simulated durations on the fake backend (clock seconds)
    boot_seconds: float = 5.0
    # live migration ([libvirt])
    live_migration_bandwidth: int = 0
    live_migration_completion_timeout: float = 800.0
    live_migration_timeout_action: str = "abort"
    live_migration_permit_post_copy: bool = False
    live_migration_permit_auto_converge: bool = False
    live_migration_downtime: int = 500
    # quotas (defaults; per-project overrides in the store)
    quota_instances: int = 10
    quota_cores: int = 20
    quota_ram: int = 51200
    quota_server_groups: int = 10
    quota_server_group_members: int = 10
    # HA engine (Masakari-like), off by default
    ha_enabled: bool = False
    ha_recovery_method: str = "auto"  # auto | reserved_host | auto_priority | rh_priority
    ha_reserved_hosts: tuple[str, ...] = ()  # standby hosts of reserved_host (in order)
    ha_check_interval: float = 10.0  # how often the HA engine looks for failed hosts
    extra: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with some options changed; unknown names and wrong types are refused."""
        known = {f.name: f for f in dataclasses.fields(self)}
        values: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ConfigError(
                    f"unknown option {name!r}; known options: {', '.join(sorted(known))}"
                )
            values[name] = _coerce(name, getattr(self, name), value)
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        """Every option, JSON-safe."""
        data = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _coerce(name: str, current: Any, value: Any) -> Any:
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"option {name!r} takes true or false, not {value!r}")
    if (
        isinstance(current, float)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return float(value)
    if isinstance(current, tuple) and isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if isinstance(current, int | str | dict) and isinstance(value, type(current)):
        return value
    raise ConfigError(f"option {name!r} takes a {type(current).__name__}, not {value!r}")
