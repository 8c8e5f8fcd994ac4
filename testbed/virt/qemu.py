"""The real backend: libvirt + QEMU compute hosts, one Docker container each.

:class:`QemuBackend` is the :class:`~testbed.virt.backend.VirtBackend` whose hosts are node
containers of a :class:`testbed.qemu.nodes.NodeCluster` (docs/qemu.md).  The libvirt driver
runs on it unchanged: only the libvirt module (the real one, with probing, event-loop and
keepalive ``open``\\s: :mod:`testbed.virt.qemu_libvirt`) and the URIs
(``qemu+tcp://<node ip>/system``) differ from the fake backend.

- Storage, as on the fake backend: ``/var/lib/testbed/instances`` on each node (one Docker
  volume per ``shared_storage`` group, a volume of its own for every other host) and
  ``/var/lib/testbed/volumes`` shared by all nodes.  Disks are ``qemu-img`` overlays on the
  guest image's root disk, made inside the node; cold-migration copies go through Docker's
  archive API.
- Guests: every image boots the tiny heartbeat guest (direct kernel boot from the guest
  image, mounted read-only at the same path on every node).  A boot is complete when the
  guest's first ``heartbeat N`` line appears on its serial console: real time, so
  ``Config.boot_seconds`` is not added on this backend.
- Faults: hosts crash with ``docker kill``, recover with ``docker start``, hang with
  ``docker pause``; guests power themselves off (SysRq) or change state behind the cloud's
  back through a separate libvirt connection (:mod:`testbed.virt.qemu_faults`).

The cluster starts when the cloud attaches the backend (:meth:`QemuBackend.attach`) and is
removed by :meth:`QemuBackend.close` (``Cloud.stop``), or at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import posixpath
import sys
import threading
from collections.abc import Callable
from typing import Any

from testbed.qemu.guest import GuestImage
from testbed.qemu.nodes import INSTANCES_DIR, SERIAL_DIR, VOLUMES_DIR, Node, NodeCluster
from testbed.service import Runtime
from testbed.virt.backend import GuestBoot, HostSpec, host_spec_from_dict
from testbed.virt.driver import HypervisorError
from testbed.virt.qemu_faults import QemuFaults
from testbed.virt.qemu_libvirt import libvirt_module

__all__ = ["GUEST_IMAGE_ID", "QemuBackend"]

LOG = logging.getLogger(__name__)

#: The image id under which the tiny heartbeat guest is registered ("tiny-linux").
GUEST_IMAGE_ID = "0b8f2a6e-5d3c-4f7a-8e21-9c4d3b2a1f02"
#: Real seconds a guest may take from start to its first heartbeat (TCG on a busy machine).
DEFAULT_BOOT_TIMEOUT = float(os.environ.get("TESTBED_QEMU_BOOT_TIMEOUT", "180"))


def _progress(message: str, elapsed: float) -> None:
    print(f"testbed qemu: [{elapsed:5.1f}s] {message}", file=sys.stderr, flush=True)


class QemuBackend:
    """A :class:`~testbed.virt.backend.VirtBackend` over node containers.

    Args:
        image: node image tag (default ``$TESTBED_NODE_IMAGE``, else the cached build).
        boot_timeout: real seconds to wait for a guest's first heartbeat.
        quiet: no progress lines on stderr while images are found or built.
    """

    name = "qemu"
    instances_path = INSTANCES_DIR
    serial_dir = SERIAL_DIR

    def __init__(
        self,
        *,
        image: str | None = None,
        boot_timeout: float = DEFAULT_BOOT_TIMEOUT,
        quiet: bool = False,
    ) -> None:
        self.libvirt = libvirt_module()
        self.boot_timeout = boot_timeout
        self.cluster: NodeCluster | None = None
        self._image = image
        self._quiet = quiet
        self._specs: dict[str, HostSpec] = {}
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()
        self.faults = QemuFaults(self)

    # -- life cycle -----------------------------------------------------------------------
    def attach(self, runtime: Runtime) -> None:
        """Start the nodes (one per host added) and register the guest image."""
        self._runtime = runtime
        self.start()
        self._register_guest_image(runtime)

    def start(self) -> NodeCluster:
        """Start the node containers of every host added so far (idempotent)."""
        with self._lock:
            if self.cluster is not None:
                return self.cluster
            if not self._specs:
                raise HypervisorError(reason="the qemu backend has no hosts to start")
            from testbed.qemu.nodes import remove_stale

            with contextlib.suppress(Exception):
                remove_stale()
            groups: dict[str, list[str]] = {}
            for spec in self._specs.values():
                if spec.shared_storage:
                    groups.setdefault(spec.shared_storage, []).append(spec.name)
            cluster = NodeCluster(
                list(self._specs),
                shared_instances=list(groups.values()),
                image=self._image,
                progress=None if self._quiet else _progress,
            )
            try:
                cluster.start()
            except BaseException:
                cluster.close()
                raise
            self.cluster = cluster
            atexit.register(self.close)
            return cluster

    def close(self) -> None:
        """Remove every node container, the network and the volumes (idempotent)."""
        with self._lock:
            cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.close()
            atexit.unregister(self.close)

    # -- hosts ----------------------------------------------------------------------------
    def add_host(self, spec: dict[str, Any]) -> None:
        """A node for the host (started with the others on :meth:`attach`)."""
        host = host_spec_from_dict(spec)
        if self.cluster is not None and host.name not in self._specs:
            raise HypervisorError(reason="qemu hosts must be added before the nodes start")
        self._specs[host.name] = host

    def node(self, host: str) -> Node:
        """The node container of ``host``."""
        if self.cluster is None:
            raise HypervisorError(reason="the qemu nodes are not started (attach the backend)")
        try:
            return self.cluster[host]
        except KeyError:
            raise HypervisorError(reason=f"no qemu node for host {host!r}") from None

    def uri(self, host: str) -> str:
        """``qemu+tcp://<node ip>/system``."""
        return self.node(host).libvirt_uri

    def host_spec(self, host: str) -> HostSpec:
        """The topology's entry for ``host``."""
        return self._specs[host]

    def hosts(self) -> list[str]:
        """Every host added."""
        return list(self._specs)

    def guest_image(self) -> GuestImage:
        """The guest image as the nodes see it."""
        guest = self.cluster.guest if self.cluster is not None else None
        if guest is None:
            raise HypervisorError(reason="the qemu nodes have no guest image")
        return guest.on_node()

    def guest_boot(self) -> GuestBoot:
        """Direct kernel boot of the tiny guest (same paths on every node)."""
        guest = self.guest_image()
        return GuestBoot(kernel=str(guest.kernel), initrd=str(guest.initrd), cmdline=guest.cmdline)

    def storage_group(self, host: str) -> str:
        """The instance storage ``host`` uses (hosts sharing it have the same group)."""
        spec = self._specs.get(host)
        return (spec.shared_storage if spec else None) or f"local:{host}"

    # -- disks ----------------------------------------------------------------------------
    def create_disk(
        self, host: str, path: str, size_gb: int, image: dict[str, Any] | None = None
    ) -> None:
        """A qcow2 overlay of ``size_gb`` GiB on the guest's root disk, made on the node."""
        from testbed.qemu.storage import create_qcow2

        node = self.node(host)
        self._on_node(node, create_qcow2, node, path, size_gb, self.guest_image().root_qcow2)

    def delete_disk(self, host: str, path: str) -> None:
        """Remove the file (and its instance directory when empty); missing is fine.

        A stopped (crashed) node's files are removed through a running node that shares the
        storage; a host-local disk of a dead node stays until the node's volume goes."""
        from testbed.qemu.storage import remove_file

        node = self._reachable(host, path)
        if node is None:
            LOG.warning("%s is down: %s is left on its local storage", host, path)
            return
        self._on_node(node, remove_file, node, path)

    def disk_exists(self, host: str, path: str) -> bool:
        """Whether ``path`` exists on ``host`` (seen through shared storage too)."""
        from testbed.qemu.storage import file_exists

        node = self._reachable(host, path)
        if node is None:
            return False
        return bool(self._on_node(node, file_exists, node, path))

    def copy_disk(self, src_host: str, dst_host: str, path: str) -> None:
        """Copy a disk to the same path on another host (nothing to do on shared storage)."""
        from testbed.qemu.storage import copy_file_between

        if path.startswith(INSTANCES_DIR) and self.storage_group(src_host) == self.storage_group(
            dst_host
        ):
            return
        src, dst = self.node(src_host), self.node(dst_host)
        self._on_node(dst, copy_file_between, src, dst, path)

    def _reachable(self, host: str, path: str) -> Node | None:
        """``host``'s node if running, else a running node seeing the same file."""
        node = self.node(host)
        if self._running(node):
            return node
        if self.cluster is None:
            return None
        group = self.storage_group(host)
        for other in self.cluster.nodes:
            if other is node or not self._running(other):
                continue
            if path.startswith(VOLUMES_DIR) or self.storage_group(other.name) == group:
                return other
        return None

    @staticmethod
    def _running(node: Node) -> bool:
        try:
            return node.status() == "running"
        except Exception:
            return False

    @staticmethod
    def _on_node(node: Node, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HypervisorError:
            raise
        except Exception as exc:  # NodeError, docker.errors.APIError
            raise HypervisorError(reason=f"{node.name}: {exc}") from exc

    # -- volumes --------------------------------------------------------------------------
    def _volume_path(self, volume_id: str) -> str:
        return posixpath.join(VOLUMES_DIR, f"volume-{volume_id}")

    def _any_running_node(self) -> Node:
        for node in self.cluster.nodes if self.cluster is not None else []:
            if self._running(node):
                return node
        raise HypervisorError(reason="no qemu node is running to reach the volume storage")

    def create_volume(self, volume_id: str, size_gb: int) -> str:
        """A sparse raw file on the storage every node mounts; returns its path."""
        from testbed.qemu.storage import create_raw

        path = self._volume_path(volume_id)
        node = self._any_running_node()
        self._on_node(node, create_raw, node, path, size_gb)
        return path

    def delete_volume(self, volume_id: str) -> None:
        """Remove the volume's file; missing is fine."""
        from testbed.qemu.storage import remove_file

        node = self._any_running_node()
        self._on_node(node, remove_file, node, self._volume_path(volume_id), prune_dir=False)

    # -- guests ---------------------------------------------------------------------------
    def wait_for_boot(self, host: str, domain_name: str, serial_log: str) -> None:
        """Wait (real time) for the guest's first heartbeat on its serial console."""
        from testbed.qemu.serial import SerialTimeout, wait_for_heartbeat

        node = self.node(host)
        try:
            wait_for_heartbeat(node, serial_log, timeout=self.boot_timeout)
        except SerialTimeout as exc:
            raise HypervisorError(reason=f"{domain_name} did not boot on {host}: {exc}") from exc
        except Exception as exc:  # the node died under the wait
            raise HypervisorError(reason=f"{domain_name} on {host}: {exc}") from exc

    def _register_guest_image(self, runtime: Runtime) -> None:
        """Register the tiny guest as ``tiny-linux`` with its real size and checksums."""
        import hashlib

        from testbed.image.registry import ImageRegistry

        guest = self.cluster.guest if self.cluster is not None else None
        if guest is None:
            return
        data = guest.root_qcow2.read_bytes()
        ImageRegistry(runtime).seed(
            {
                "id": GUEST_IMAGE_ID,
                "name": "tiny-linux",
                "disk_format": "qcow2",
                "container_format": "bare",
                "size": len(data),
                "virtual_size": 16 * 1024 * 1024,
                "checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                "os_hash_algo": "sha512",
                "os_hash_value": hashlib.sha512(data).hexdigest(),
                "min_disk": 1,
                "min_ram": 128,
                "visibility": "public",
                "properties": {
                    "os_distro": "debian",
                    "testbed_guest": "heartbeat",
                    "kernel_file": guest.kernel.name,
                    "ramdisk_file": guest.initrd.name,
                },
            }
        )

    # -- host failures and faults (the control API) -----------------------------------------
    def crash_host(self, host: str) -> None:
        """``docker kill`` of the host's node: libvirtd and every guest die at once."""
        self.faults.inject({"kind": "host_crash", "host": host})

    def recover_host(self, host: str) -> None:
        """``docker start`` (or unpause) of the node; returns once libvirtd accepts."""
        self.faults.inject({"kind": "host_recover", "host": host})

    def fault_kinds(self) -> dict[str, str]:
        """The hypervisor faults this backend can inject, with their parameters."""
        return self.faults.kinds()

    def inject_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Inject a fault (fakevirt's dict form); returns it with its id."""
        return self.faults.inject(spec)

    def list_faults(self) -> list[dict[str, Any]]:
        """The faults in force."""
        return self.faults.active()

    def clear_faults(self, fault_id: str | int | None = None) -> None:
        """Clear one fault (by id) or all of them."""
        self.faults.clear(fault_id)
