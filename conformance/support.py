"""What the conformance tests share: waiting for the cloud, making servers, raw requests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["CloudUnderTest", "raw"]

EXTERNAL_WAIT = float(os.environ.get("TESTBED_EXTERNAL_WAIT", "600"))


def raw(
    proxy: Any,
    method: str,
    path: str,
    *,
    body: Any = None,
    microversion: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """A request through an openstacksdk proxy that returns the response, even a 4xx."""
    kwargs: dict[str, Any] = {"raise_exc": False, "headers": headers or {}}
    if body is not None:
        kwargs["json"] = body
    if microversion:
        kwargs["microversion"] = microversion
    return proxy.request(path, method, **kwargs)


@dataclass
class CloudUnderTest:
    """The cloud as the tests see it: an admin and a member connection, and (when the
    cloud is a test-bed) its control API to settle, advance time and inject faults."""

    conn: Any
    demo: Any
    control: Any
    created: list[tuple[Any, str]] = field(default_factory=list)

    # -- time -------------------------------------------------------------------------------
    def settle(self) -> None:
        """Wait until the cloud has nothing in flight (a no-op for other clouds)."""
        if self.control is not None:
            self.control.settle()

    # -- defaults of the seeded topology ----------------------------------------------------
    def flavor(self, name: str = "m1.tiny") -> Any:
        """A flavor by name (TESTBED_FLAVOR overrides the default)."""
        return self.conn.compute.find_flavor(
            os.environ.get("TESTBED_FLAVOR", name), ignore_missing=False
        )

    def image(self, name: str = "cirros") -> Any:
        """An image by name (TESTBED_IMAGE overrides the default)."""
        return self.conn.image.find_image(
            os.environ.get("TESTBED_IMAGE", name), ignore_missing=False
        )

    def network(self, name: str = "demo-net") -> Any:
        """A network by name."""
        return self.conn.network.find_network(name, ignore_missing=False)

    # -- servers ----------------------------------------------------------------------------
    def boot(self, conn: Any = None, *, wait: str | None = "ACTIVE", **attrs: Any) -> Any:
        """Create a server (tiny flavor, cirros, no network unless told) and wait for it."""
        conn = conn or self.conn
        attrs.setdefault("name", "conformance")
        attrs.setdefault("flavor_id", self.flavor().id)
        if "block_device_mapping" not in attrs:
            attrs.setdefault("image_id", self.image().id)
        attrs.setdefault("networks", "none")
        server = conn.compute.create_server(**attrs)
        self.created.append((conn, server.id))
        return self.wait(server.id, wait, conn) if wait else server

    def wait(self, server_id: str, status: str, conn: Any = None) -> Any:
        """The server once it reaches ``status`` (fails with its fault otherwise)."""
        conn = conn or self.conn
        if self.control is None:
            server = conn.compute.get_server(server_id)
            return conn.compute.wait_for_server(
                server, status=status, interval=1, wait=EXTERNAL_WAIT
            )
        self.settle()
        server = conn.compute.get_server(server_id)
        if server.status != status:
            pytest.fail(
                f"server {server_id} is {server.status} (task_state "
                f"{server.task_state}), expected {status}; fault: {server.fault}"
            )
        return server

    def wait_deleted(self, server_id: str, conn: Any = None) -> None:
        """Until the server is gone."""
        conn = conn or self.conn
        if self.control is None:
            server = conn.compute.get_server(server_id)
            conn.compute.wait_for_delete(server, interval=1, wait=EXTERNAL_WAIT)
            return
        self.settle()
        assert conn.compute.find_server(server_id) is None, f"{server_id} still exists"

    def action(
        self,
        server_id: str,
        body: dict[str, Any],
        conn: Any = None,
        microversion: str | None = None,
    ) -> Any:
        """POST /servers/{id}/action; returns the raw response."""
        return raw(
            (conn or self.conn).compute,
            "POST",
            f"/servers/{server_id}/action",
            body=body,
            microversion=microversion,
        )

    def cleanup(self) -> None:
        """Delete every server the test made (force delete: even mid-task)."""
        for conn, server_id in reversed(self.created):
            if conn.compute.find_server(server_id) is not None:
                self.action(server_id, {"forceDelete": None}, conn)
        for conn, server_id in self.created:
            self.wait_deleted(server_id, conn)
