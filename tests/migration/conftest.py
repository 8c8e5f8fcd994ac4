"""Fixtures of the migration tests: an in-process default cloud (fakevirt, 4 hosts:
cmp-a1 + cmp-a2 share instance storage, cmp-b1 + cmp-b2 do not), driven through
openstacksdk, with the cloud's invariants checked after every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from testbed.cloud import Cloud
from testbed.invariants import check_invariants
from testbed.virt.fake import FakeBackend

IMAGE_NAME = "cirros"


@dataclass
class MoveCloud:
    """A cloud and what the tests do with it."""

    cloud: Cloud
    conn: Any
    created: list[str] = field(default_factory=list)

    @property
    def world(self) -> Any:
        """The fakevirt world under the cloud."""
        backend = self.cloud.runtime.virt
        assert isinstance(backend, FakeBackend)
        return backend.world

    def settle(self) -> None:
        self.cloud.settle()

    def boot(self, host: str | None = None, *, flavor: str = "1", bfv: bool = False) -> Any:
        """A server (on ``host`` when given), ACTIVE."""
        image = self.conn.image.find_image(IMAGE_NAME).id
        attrs: dict[str, Any] = {"name": "mv", "flavor_id": flavor, "networks": "none"}
        if bfv:
            attrs["block_device_mapping"] = [
                {
                    "boot_index": 0,
                    "uuid": image,
                    "source_type": "image",
                    "destination_type": "volume",
                    "volume_size": 1,
                    "delete_on_termination": True,
                }
            ]
        else:
            attrs["image_id"] = image
        if host is not None:
            zone = "az1" if host.startswith("cmp-a") else "az2"
            attrs["availability_zone"] = f"{zone}:{host}"
        server = self.conn.compute.create_server(**attrs)
        self.created.append(server.id)
        self.settle()
        server = self.conn.compute.get_server(server.id)
        assert server.status == "ACTIVE", server.fault
        return server

    def server(self, server_id: str) -> Any:
        return self.conn.compute.get_server(server_id)

    def action(self, server_id: str, body: dict[str, Any], microversion: str = "2.60") -> Any:
        """POST /servers/{id}/action; the raw response."""
        return self.conn.compute.post(
            f"/servers/{server_id}/action",
            json=body,
            microversion=microversion,
            raise_exc=False,
        )

    def migrations(self, server_id: str) -> list[Any]:
        """The server's migrations, newest first."""
        return list(self.conn.compute.migrations(instance_uuid=server_id))

    def events(self, server_id: str, action: str) -> list[tuple[str, str]]:
        """(event, result) of the server's latest ``action``."""
        for entry in self.conn.compute.server_actions(server_id):
            if entry.action == action:
                full = self.conn.compute.get_server_action(entry.request_id, server_id)
                return [(e["event"], e["result"]) for e in full.events]
        raise AssertionError(f"no {action} action on {server_id}")

    def running_on(self, server_id: str) -> list[str]:
        """Hosts whose hypervisor runs the server's guest."""
        from testbed.invariants import running_domains

        return running_domains(self.cloud.runtime).get(server_id, [])

    def task_states(self, server_id: str) -> list[str | None]:
        """The task_states the server went through (from the trace), without repeats."""
        seen: list[str | None] = []
        for event in self.cloud.runtime.tracer.for_instance(server_id):
            if event["kind"] == "state":
                task = event["detail"].get("task_state")
                if not seen or seen[-1] != task:
                    seen.append(task)
        return seen

    def files(self, host: str) -> list[str]:
        return [str(f) for f in self.world.host(host).list_files()]

    def cleanup(self) -> None:
        self.cloud.runtime.clock.set_mode("auto")
        self.cloud.runtime.bus.clear_faults()
        self.world.clear_faults()
        self.settle()
        for server_id in self.created:
            if self.conn.compute.find_server(server_id) is not None:
                self.action(server_id, {"forceDelete": None})
        self.created.clear()
        self.settle()


def _move_cloud(request: pytest.FixtureRequest, **overrides: Any) -> Iterator[MoveCloud]:
    cloud = Cloud.start("default", **overrides)
    try:
        yield MoveCloud(cloud, cloud.connect())
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def _shared_cloud(request: pytest.FixtureRequest) -> Iterator[MoveCloud]:
    yield from _move_cloud(request)


@pytest.fixture
def cloud(_shared_cloud: MoveCloud) -> Iterator[MoveCloud]:
    """The module's cloud; servers are deleted and invariants checked after the test."""
    yield _shared_cloud
    _shared_cloud.cleanup()
    problems = check_invariants(_shared_cloud.cloud.runtime)
    assert problems == [], problems


def make_cloud_fixture(**overrides: Any) -> Any:
    """A module-scoped cloud fixture with configuration overrides."""

    @pytest.fixture(scope="module")
    def _configured(request: pytest.FixtureRequest) -> Iterator[MoveCloud]:
        yield from _move_cloud(request, **overrides)

    return _configured
