"""Compute-host containers: one container of the node image = one libvirt + QEMU host.

:class:`NodeCluster` starts N nodes (testcontainers, Ryuk disabled) on one user-defined Docker
bridge network with static IPs, so a node keeps its address (and its ``libvirt_uri``) across
``kill()`` and ``start()``. Storage, mounted at the same path on every node that shares it:

- ``/var/lib/testbed/instances`` (:data:`INSTANCES_DIR`): one Docker volume per storage group
  (nodes in one group share instance storage; the others get a host-local volume each);
- ``/var/lib/testbed/volumes`` (:data:`VOLUMES_DIR`): one volume shared by all nodes, for the
  volume service;
- ``/opt/testbed/guest`` (:data:`~testbed.qemu.guest.GUEST_MOUNT`): the guest image, read-only.

Everything the cluster creates carries the label ``org.nova-testbed.cluster=<id>`` and is
removed on exit; :func:`remove_stale` removes what a killed run left behind.

Example::

    with NodeCluster(2) as cluster:
        a, b = cluster.nodes
        conn = open_connection(a)
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shlex
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from testbed.qemu.connect import LIBVIRT_TCP_PORT, probe
from testbed.qemu.engine import ensure_engine
from testbed.qemu.guest import GUEST_MOUNT, GuestImage, ensure_guest_image
from testbed.qemu.image import Progress, ensure_node_image

INSTANCES_DIR = "/var/lib/testbed/instances"
VOLUMES_DIR = "/var/lib/testbed/volumes"
SERIAL_DIR = "/var/log/testbed"
CLUSTER_LABEL = "org.nova-testbed.cluster"
PID_LABEL = "org.nova-testbed.pid"
#: The container options that work on a host whose root lacks CAP_SYS_RESOURCE (where
#: ``--privileged`` fails): QEMU needs /dev/net/tun, loop devices for volume tests.
CONTAINER_OPTIONS: dict[str, Any] = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "devices": ["/dev/net/tun"],
    "device_cgroup_rules": ["b 7:* rwm"],
}


#: A path inside a node: a string or a (Pure)Path such as ``GuestImage.on_node().kernel``.
NodePath = str | PurePath


class NodeError(RuntimeError):
    """A node container did not start, or a command in it failed."""


@dataclass(frozen=True)
class ExecResult:
    """Exit status and combined output of a command run in a node."""

    exit_code: int
    output: str


class Node:
    """One compute host: a running container with libvirtd listening on TCP 16509."""

    def __init__(
        self,
        name: str,
        container: Any,
        ip: str,
        host_uuid: str,
        instances_volume: str,
        guest: GuestImage | None,
    ) -> None:
        self.name = name
        self.ip = ip
        self.host_uuid = host_uuid
        self.instances_volume = instances_volume
        #: The guest image as seen inside this node (None when the cluster has none).
        self.guest = guest
        self._tc = container

    def __repr__(self) -> str:
        return f"Node({self.name!r}, ip={self.ip!r})"

    @property
    def libvirt_uri(self) -> str:
        """``qemu+tcp://<ip>/system``: plain TCP, no auth (a private test network)."""
        return f"qemu+tcp://{self.ip}/system"

    @property
    def migration_uri(self) -> str:
        """``tcp://<ip>``: the QEMU migration stream's destination (VIR_MIGRATE_PARAM_URI)."""
        return f"tcp://{self.ip}"

    @property
    def container(self) -> Any:
        """The ``docker.models.containers.Container`` behind this node."""
        return self._tc.get_wrapped_container()

    @property
    def container_name(self) -> str:
        """The Docker container's name."""
        return str(self.container.name)

    def status(self) -> str:
        """Docker's view: ``running``, ``paused``, ``exited``, ..."""
        container = self.container
        container.reload()
        return str(container.status)

    def kill(self) -> None:
        """``docker kill``: the host dies at once (guests included); see :meth:`start`."""
        self.container.kill()
        self.container.wait(timeout=30)

    def pause(self) -> None:
        """``docker pause``: a hung host (TCP open, nothing answers)."""
        self.container.pause()

    def unpause(self) -> None:
        """Undo :meth:`pause`."""
        self.container.unpause()

    def start(self, timeout: float = 60.0) -> None:
        """Start the container again after :meth:`kill`; return once libvirtd accepts and
        has reconciled its domains (see :meth:`wait_reconciled`)."""
        self.container.start()
        started = time.monotonic()
        self.wait_ready(timeout)
        self.wait_reconciled(max(timeout - (time.monotonic() - started), 1.0))

    def wait_reconciled(self, timeout: float = 60.0) -> float:
        """Wait until libvirtd reports no running domain; return the seconds waited.

        After a restart libvirtd accepts connections *before* its reconnect threads have
        found that the QEMU processes died with the container: for a moment the old
        domains still read as running, then shut off (reason crashed). Nothing can have
        started a domain yet, so "none running" is the end of that. No signal exists for
        it: a short bounded backoff, as in :meth:`wait_ready`.
        """
        started = time.monotonic()
        deadline = started + timeout
        delay = 0.02
        argv = ["virsh", "-q", "-c", "qemu:///system", "list", "--state-running", "--name"]
        while self.exec(argv, check=False).output.strip():
            if time.monotonic() >= deadline:
                raise NodeError(
                    f"libvirtd on {self.name} still reports running domains "
                    f"{timeout:.0f} s after its restart"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        return time.monotonic() - started

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait until libvirtd accepts TCP connections; return the seconds waited.

        libvirtd is an external process with no readiness signal: this probes its port with a
        short, bounded backoff and fails early if the container exits.
        """
        started = time.monotonic()
        deadline = started + timeout
        delay = 0.02
        while not probe(self.ip, LIBVIRT_TCP_PORT, timeout=0.5):
            if self.status() not in ("running", "created", "restarting"):
                logs = self.container.logs(tail=30).decode(errors="replace")
                raise NodeError(f"node {self.name} stopped ({self.status()}):\n{logs}")
            if time.monotonic() >= deadline:
                raise NodeError(
                    f"libvirtd on {self.name} ({self.ip}) did not accept "
                    f"connections within {timeout:.0f} s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        return time.monotonic() - started

    def exec(self, cmd: str | Sequence[NodePath], *, check: bool = True) -> ExecResult:
        """Run ``cmd`` (a list, or a string for ``sh -c``) in the node; raise on failure
        unless ``check`` is False."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(arg) for arg in cmd]
        code, out = self.container.exec_run(argv, demux=False)
        result = ExecResult(int(code), (out or b"").decode(errors="replace"))
        if check and result.exit_code != 0:
            raise NodeError(
                f"{self.name}: {shlex.join(argv)} exited {result.exit_code}: "
                f"{result.output.strip()}"
            )
        return result

    def read_file(self, path: NodePath) -> str:
        """The text of a file on the node ('' when it does not exist)."""
        return self.exec(["sh", "-c", 'cat "$1" 2>/dev/null || true', "sh", path]).output

    def create_disk(
        self, path: NodePath, size: str | None = None, backing: NodePath | None = None
    ) -> None:
        """``qemu-img create -f qcow2`` on the node: an empty disk of ``size`` or an overlay
        on ``backing`` (a qcow2 path on the node)."""
        argv: list[NodePath] = ["qemu-img", "create", "-q", "-f", "qcow2"]
        if backing is not None:
            argv += ["-F", "qcow2", "-b", backing]
        argv.append(path)
        if size is not None:
            argv.append(size)
        self.exec(["mkdir", "-p", PurePath(path).parent])
        self.exec(argv)

    def copy_file(self, src: NodePath, dest: NodePath) -> None:
        """Copy a file on the node (e.g. the guest's template disk to an instance disk)."""
        self.exec(["mkdir", "-p", PurePath(dest).parent])
        self.exec(["cp", src, dest])


def _storage_groups(names: Sequence[str], shared: bool | Iterable[Iterable[str]]) -> dict[str, str]:
    """Map node name -> storage group key."""
    if shared is True:
        return {name: "shared" for name in names}
    if shared is False:
        return {name: name for name in names}
    groups: dict[str, str] = {}
    for index, group in enumerate(shared):
        for name in group:
            if name not in names:
                raise ValueError(f"unknown node {name!r} in shared_instances")
            groups[name] = f"group{index}"
    return {name: groups.get(name, name) for name in names}


class NodeCluster:
    """N node containers on one bridge network; a context manager that removes them all.

    Args:
        nodes: how many nodes (named ``node1``...), or their names.
        shared_instances: True (all nodes share instance storage), False (each is host-local),
            or groups of node names that share (nodes in no group are host-local).
        guest: the guest image to mount (default: :func:`ensure_guest_image`); False for none.
        image: node image tag (default: ``$TESTBED_NODE_IMAGE``, else
            :func:`ensure_node_image`).
        client: docker client (default: :func:`ensure_engine`).
        progress: progress callback for image builds.
        ready_timeout: seconds each node may take until libvirtd accepts connections.
    """

    def __init__(
        self,
        nodes: int | Sequence[str] = 2,
        *,
        shared_instances: bool | Iterable[Iterable[str]] = True,
        guest: GuestImage | bool = True,
        image: str | None = None,
        client: Any | None = None,
        progress: Progress | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.names = (
            [f"node{i + 1}" for i in range(nodes)] if isinstance(nodes, int) else list(nodes)
        )
        if len(set(self.names)) != len(self.names) or not self.names:
            raise ValueError("node names must be unique and at least one")
        self.groups = _storage_groups(self.names, shared_instances)
        self.id = uuid.uuid4().hex[:8]
        self.nodes: list[Node] = []
        self.network: Any | None = None
        self.volumes: list[Any] = []
        self.guest: GuestImage | None = None
        self._guest_arg = guest
        self._image = image
        self._client = client
        self._progress = progress
        self._ready_timeout = ready_timeout
        #: Seconds from container creation to libvirtd accepting, per node name.
        self.ready_seconds: dict[str, float] = {}

    def __getitem__(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def __enter__(self) -> NodeCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def labels(self) -> dict[str, str]:
        """Labels put on every container, network and volume of this cluster."""
        return {CLUSTER_LABEL: self.id, PID_LABEL: str(os.getpid())}

    def start(self) -> None:
        """Build/find the images, create network and volumes, start and await all nodes."""
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        from testcontainers.core.config import testcontainers_config

        testcontainers_config.ryuk_disabled = True
        client = self._client = self._client or ensure_engine()
        image = (
            self._image
            or os.environ.get("TESTBED_NODE_IMAGE")
            or ensure_node_image(self._progress, client=client)
        )
        if self._guest_arg is True:
            self.guest = ensure_guest_image(progress=self._progress)
        elif isinstance(self._guest_arg, GuestImage):
            self.guest = self._guest_arg
        subnet = self._create_network(client)
        volumes: dict[str, str] = {}
        for group in sorted(set(self.groups.values())):
            vol = client.volumes.create(f"tb-{self.id}-instances-{group}", labels=self.labels)
            self.volumes.append(vol)
            volumes[group] = vol.name
        shared_vol = client.volumes.create(f"tb-{self.id}-volumes", labels=self.labels)
        self.volumes.append(shared_vol)
        hosts = subnet.hosts()
        next(hosts)  # the gateway
        started: dict[str, float] = {}
        for name in self.names:
            ip = str(next(hosts))
            started[name] = time.monotonic()
            self.nodes.append(
                self._start_node(
                    client, image, name, ip, volumes[self.groups[name]], shared_vol.name
                )
            )
        for node in self.nodes:
            node.wait_ready(self._ready_timeout)
            self.ready_seconds[node.name] = time.monotonic() - started[node.name]

    def _create_network(self, client: Any) -> ipaddress.IPv4Network:
        import docker.errors
        import docker.types

        rng = random.Random()
        last_error: Exception | None = None
        for _attempt in range(20):
            subnet = ipaddress.IPv4Network(
                f"10.{rng.randrange(200, 250)}.{rng.randrange(0, 256)}.0/24"
            )
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
            try:
                self.network = client.networks.create(
                    f"tb-{self.id}-net", driver="bridge", ipam=ipam, labels=self.labels
                )
            except docker.errors.APIError as exc:  # overlapping pool: try another subnet
                last_error = exc
                continue
            return subnet
        raise NodeError(f"could not create a node network: {last_error}")

    def _start_node(
        self, client: Any, image: str, name: str, ip: str, instances_volume: str, shared_volume: str
    ) -> Node:
        import docker.types
        from testcontainers.core.container import DockerContainer

        assert self.network is not None
        host_uuid = str(uuid.uuid4())
        container = (
            DockerContainer(image)
            .with_name(f"tb-{self.id}-{name}")
            .with_env("TESTBED_HOST_UUID", host_uuid)
            .with_volume_mapping(instances_volume, INSTANCES_DIR, "rw")
            .with_volume_mapping(shared_volume, VOLUMES_DIR, "rw")
        )
        if self.guest is not None:
            container.with_volume_mapping(str(self.guest.directory), GUEST_MOUNT, "ro")
        net = self.network.name
        endpoint = docker.types.EndpointConfig(
            client.api.api_version, aliases=[name], ipv4_address=ip
        )
        # with_kwargs replaces earlier kwargs: everything in one call.
        container.with_kwargs(
            hostname=name,
            labels=self.labels,
            network=net,
            networking_config={net: endpoint},
            **CONTAINER_OPTIONS,
        )
        container.start()
        guest = self.guest.on_node() if self.guest is not None else None
        return Node(name, container, ip, host_uuid, instances_volume, guest)

    def close(self) -> None:
        """Remove the containers, the network and the volumes (idempotent)."""
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.container.remove(force=True, v=True)
        self.nodes = []
        if self.network is not None:
            with contextlib.suppress(Exception):
                self.network.remove()
            self.network = None
        for vol in self.volumes:
            with contextlib.suppress(Exception):
                vol.remove(force=True)
        self.volumes = []


def remove_stale(client: Any | None = None, alive: Callable[[int], bool] | None = None) -> int:
    """Remove containers, networks and volumes of clusters whose process is gone (a killed
    test run); return how many objects were removed."""

    def pid_alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    is_alive = alive or pid_alive
    client = client or ensure_engine()
    removed = 0

    def stale(labels: dict[str, str] | None) -> bool:
        pid = (labels or {}).get(PID_LABEL, "")
        return pid.isdigit() and not is_alive(int(pid))

    flt = {"label": CLUSTER_LABEL}
    for container in client.containers.list(all=True, filters=flt):
        if stale(container.labels):
            container.remove(force=True, v=True)
            removed += 1
    for network in client.networks.list(filters=flt):
        if stale(network.attrs.get("Labels")):
            network.remove()
            removed += 1
    for vol in client.volumes.list(filters=flt):
        if stale(vol.attrs.get("Labels")):
            vol.remove(force=True)
            removed += 1
    return removed
