"""The real backend's infrastructure: libvirt + QEMU compute hosts in Docker containers.

Importing :mod:`testbed.qemu` needs neither docker nor libvirt: the names below are loaded on
first use. See docs/qemu.md.

- :func:`ensure_engine` (``engine``): a Docker client, starting ``dockerd`` when needed;
- :func:`ensure_node_image` (``image``): the node image (mmdebstrap -> docker import), cached;
- :func:`ensure_guest_image`, :func:`domain_xml` (``guest``): the tiny heartbeat guest;
- :class:`NodeCluster`, :class:`Node` (``nodes``): N compute-host containers;
- :func:`open_connection` (``connect``): probe + event loop + keepalive libvirt connection;
- :func:`wait_for_line`, :func:`wait_for_heartbeat` (``serial``): bounded serial-log waits.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testbed.qemu.connect import NodeUnreachable, open_connection
    from testbed.qemu.engine import EngineUnavailable, ensure_engine
    from testbed.qemu.guest import GuestImage, domain_xml, ensure_guest_image
    from testbed.qemu.image import build_cli, ensure_node_image
    from testbed.qemu.nodes import Node, NodeCluster
    from testbed.qemu.serial import SerialTimeout, wait_for_heartbeat, wait_for_line

_EXPORTS = {
    "ensure_engine": "engine",
    "EngineUnavailable": "engine",
    "ensure_node_image": "image",
    "build_cli": "image",
    "ensure_guest_image": "guest",
    "GuestImage": "guest",
    "domain_xml": "guest",
    "Node": "nodes",
    "NodeCluster": "nodes",
    "open_connection": "connect",
    "NodeUnreachable": "connect",
    "wait_for_line": "serial",
    "wait_for_heartbeat": "serial",
    "SerialTimeout": "serial",
}

__all__ = [
    "EngineUnavailable",
    "GuestImage",
    "Node",
    "NodeCluster",
    "NodeUnreachable",
    "SerialTimeout",
    "build_cli",
    "domain_xml",
    "ensure_engine",
    "ensure_guest_image",
    "ensure_node_image",
    "open_connection",
    "wait_for_heartbeat",
    "wait_for_line",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'testbed.qemu' has no attribute {name!r}")
    return getattr(importlib.import_module(f"testbed.qemu.{module}"), name)
