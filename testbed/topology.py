"""Cloud topologies: the declarative seed data in ``fixtures/*.yaml``.

A topology names the compute hosts (capacity, availability zone, shared instance
storage), the flavors, images, networks, extra projects and users, volumes, and option
overrides.  :func:`load_topology` reads and checks one, with errors that say where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["HostSpec", "Topology", "TopologyError", "fixtures_dir", "load_topology"]


class TopologyError(ValueError):
    """A topology file that cannot be used, with the reason and the place."""


@dataclass(frozen=True)
class HostSpec:
    """One compute host."""

    name: str
    availability_zone: str = "nova"
    vcpus: int = 8
    memory_mb: int = 16384
    disk_gb: int = 200
    cpu_model: str = "Skylake-Client"
    shared_storage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Topology:
    """A whole cloud's seed data."""

    name: str
    hosts: tuple[HostSpec, ...]
    config: dict[str, Any] = field(default_factory=dict)
    flavors: tuple[dict[str, Any], ...] = ()
    images: tuple[dict[str, Any], ...] = ()
    networks: tuple[dict[str, Any], ...] = ()
    identity: dict[str, Any] = field(default_factory=dict)
    volumes: tuple[dict[str, Any], ...] = ()

    @property
    def availability_zones(self) -> list[str]:
        """The zones of the hosts, in order of first appearance."""
        return list(dict.fromkeys(h.availability_zone for h in self.hosts))

    def shared_storage_groups(self) -> dict[str, list[str]]:
        """Shared instances filesystems and the hosts mounting each."""
        groups: dict[str, list[str]] = {}
        for host in self.hosts:
            if host.shared_storage:
                groups.setdefault(host.shared_storage, []).append(host.name)
        return groups


def fixtures_dir() -> Path:
    """The repository's ``fixtures/`` folder (topologies shipped with the project)."""
    return Path(__file__).resolve().parent.parent / "fixtures"


def load_topology(source: str | Path | dict[str, Any] = "default") -> Topology:
    """Read a topology: a name in ``fixtures/``, a path to a YAML file, or a dict."""
    where = "<dict>"
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        if not path.suffix and not path.exists():
            path = fixtures_dir() / f"{source}.yaml"
        where = str(path)
        if not path.is_file():
            raise TopologyError(f"no topology file at {path}")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise TopologyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TopologyError(f"{where}: a topology is a mapping, not {type(data).__name__}")
    return _parse(data, where)


def _parse(data: dict[str, Any], where: str) -> Topology:
    known = {"name", "config", "hosts", "flavors", "images", "networks", "identity", "volumes"}
    unknown = set(data) - known
    if unknown:
        raise TopologyError(f"{where}: unknown sections {sorted(unknown)}; known: {sorted(known)}")
    hosts_data = data.get("hosts") or []
    if not isinstance(hosts_data, list) or not hosts_data:
        raise TopologyError(f"{where}: 'hosts' must be a non-empty list")
    hosts = []
    for i, raw in enumerate(hosts_data):
        if not isinstance(raw, dict) or "name" not in raw:
            raise TopologyError(f"{where}: hosts[{i}] needs at least a name")
        try:
            hosts.append(HostSpec(**raw))
        except TypeError as exc:
            raise TopologyError(f"{where}: hosts[{i}] ({raw.get('name')}): {exc}") from exc
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise TopologyError(f"{where}: host names must be unique: {names}")

    def listed(key: str) -> tuple[dict[str, Any], ...]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise TopologyError(f"{where}: '{key}' must be a list of mappings")
        return tuple(value)

    config = data.get("config") or {}
    identity = data.get("identity") or {}
    if not isinstance(config, dict) or not isinstance(identity, dict):
        raise TopologyError(f"{where}: 'config' and 'identity' must be mappings")
    return Topology(
        name=str(data.get("name") or where),
        hosts=tuple(hosts),
        config=config,
        flavors=listed("flavors"),
        images=listed("images"),
        networks=listed("networks"),
        identity=identity,
        volumes=listed("volumes"),
    )
