"""Fixtures of the compute API's tests.

The API runs in-process (requests -> WSGIAdapter -> the app mounted at /compute).  The
services it talks to are test doubles *at the bus seam*: small endpoints served on the
conductor, compute.<host>, image, network and volume topics that record what reached
them and answer like the real services would.  Authentication is a token table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from testbed.api.app import build_app
from testbed.compute.models import ComputeNode, Flavor, Instance, Service
from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.service import Runtime
from testbed.web.transport import mount_wsgi

BASE = "http://cloud.test/compute"
IMAGE = "11111111-1111-1111-1111-111111111111"
BIG_IMAGE = "22222222-2222-2222-2222-222222222222"
NET = "33333333-3333-3333-3333-333333333333"
VOLUME = "44444444-4444-4444-4444-444444444444"
BUSY_VOLUME = "55555555-5555-5555-5555-555555555555"
GIB = 1024**3

TOKENS = {
    "admin-token": RequestContext(
        user_id="admin-user", project_id="admin-project", roles=("admin", "member")
    ),
    "alice-token": RequestContext(user_id="alice", project_id="p1", roles=("member",)),
    "bob-token": RequestContext(user_id="bob", project_id="p2", roles=("member",)),
}


def authenticate(request: Request, _runtime: Runtime) -> RequestContext | None:
    """Test-only token check."""
    token = request.headers.get("X-Auth-Token")
    ctx = TOKENS.get(token or "")
    return dataclasses.replace(ctx, auth_token=token) if ctx else None


class Recorder:
    """Base of the bus doubles: every RPC method records (method, kwargs)."""

    def __init__(self, log: list[tuple[str, str, dict[str, Any]]], topic: str) -> None:
        self._log = log
        self._topic = topic

    def _record(self, method: str, kwargs: dict[str, Any]) -> None:
        self._log.append((self._topic, method, kwargs))


def _recording(name: str) -> Callable[..., None]:
    def method(self: Recorder, _ctx: RequestContext, **kwargs: Any) -> None:
        self._record(name, kwargs)

    method.__name__ = name
    return method


COMPUTE_METHODS = (
    "build_and_run_instance",
    "stop_instance",
    "start_instance",
    "reboot_instance",
    "pause_instance",
    "unpause_instance",
    "suspend_instance",
    "resume_instance",
    "terminate_instance",
    "attach_volume",
    "detach_volume",
)
FakeCompute = type("FakeCompute", (Recorder,), {m: _recording(m) for m in COMPUTE_METHODS})
FakeConductor = type(
    "FakeConductor", (Recorder,), {"build_instances": _recording("build_instances")}
)


class FakeImage(Recorder):
    """The image service's answers for the images of these tests."""

    IMAGES: dict[str, dict[str, Any]] = {
        IMAGE: {
            "id": IMAGE,
            "name": "cirros",
            "status": "active",
            "size": 20 * 1024**2,
            "min_disk": 0,
            "min_ram": 0,
        },
        BIG_IMAGE: {
            "id": BIG_IMAGE,
            "name": "big",
            "status": "active",
            "size": 5 * GIB,
            "min_disk": 4,
            "min_ram": 0,
        },
    }

    def get_image(self, _ctx: RequestContext, image_id: str) -> dict[str, Any]:
        self._record("get_image", {"image_id": image_id})
        if image_id not in self.IMAGES:
            raise NotFound(f"Image {image_id} could not be found.")
        return self.IMAGES[image_id]


class FakeNetwork(Recorder):
    """Knows one network."""

    def validate_networks(self, _ctx: RequestContext, requested_networks: Any) -> None:
        self._record("validate_networks", {"requested_networks": requested_networks})
        if isinstance(requested_networks, list):
            for item in requested_networks:
                if item.get("uuid") and item["uuid"] != NET:
                    raise BadRequest(f"Network {item['uuid']} could not be found.")

    deallocate_for_instance = _recording("deallocate_for_instance")


class FakeVolume(Recorder):
    """One available and one in-use volume."""

    def get_volume(self, _ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        volumes = {
            VOLUME: {"id": VOLUME, "status": "available", "size": 1},
            BUSY_VOLUME: {"id": BUSY_VOLUME, "status": "in-use", "size": 1},
        }
        if volume_id not in volumes:
            raise NotFound(f"Volume {volume_id} could not be found.")
        return volumes[volume_id]

    def attachment_create(
        self, _ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> dict[str, Any]:
        self._record("attachment_create", {"volume_id": volume_id})
        if volume_id == BUSY_VOLUME:
            raise Conflict("volume is in use")
        return {"id": f"att-{volume_id[:8]}", "volume_id": volume_id, "status": "attaching"}

    attachment_delete = _recording("attachment_delete")
    delete_volume = _recording("delete_volume")


@dataclasses.dataclass
class Cloud:
    """The API under test, its runtime and what reached the doubles."""

    runtime: Runtime
    http: requests.Session
    log: list[tuple[str, str, dict[str, Any]]]

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = "alice-token",
        version: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["X-Auth-Token"] = token
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return self.http.request(method, BASE + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def calls(self, topic: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """What reached the doubles (after the casts in flight arrived)."""
        self.runtime.clock.settle()
        return [
            kwargs
            for t, m, kwargs in self.log
            if (topic is None or t == topic) and (method is None or m == method)
        ]

    def boot(self, name: str = "vm", token: str = "alice-token", **server: Any) -> str:
        """POST /servers; returns the new server's id."""
        body = {"name": name, "flavorRef": "1", "imageRef": IMAGE, "networks": "none", **server}
        resp = self.post("/v2.1/servers", {"server": body}, token=token, version="2.37")
        assert resp.status_code == 202, resp.text
        return str(resp.json()["server"]["id"])

    def set_instance(self, uuid: str, **columns: Any) -> None:
        """What the conductor / compute host would have done (through the store)."""
        with self.runtime.store.session() as session:
            instance = session.get(Instance, uuid)
            assert instance is not None
            for key, value in columns.items():
                setattr(instance, key, value)

    def active(self, name: str = "vm", token: str = "alice-token", host: str = "host1") -> str:
        """A server built and running on ``host``."""
        uuid = self.boot(name, token=token)
        self.set_instance(
            uuid,
            host=host,
            node=f"{host}.node",
            vm_state="active",
            task_state=None,
            task_id=None,
            power_state=1,
            launched_at=self.runtime.clock.now(),
            network_info=[
                {
                    "port_id": "port-1",
                    "network_id": NET,
                    "network_name": "private",
                    "mac_address": "fa:16:3e:00:00:01",
                    "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "s", "version": 4}],
                }
            ],
        )
        return uuid

    def instance(self, uuid: str) -> Instance:
        with self.runtime.store.session() as session:
            instance = session.get(Instance, uuid)
            assert instance is not None
            return instance

    def service(self, host: str, binary: str = "nova-compute") -> Service:
        with self.runtime.store.session() as session:
            service = session.scalars(
                select(Service).where(Service.host == host, Service.binary == binary)
            ).one()
            return service


def _seed(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.store.session() as session:
        session.add_all(
            [
                Flavor(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1),
                Flavor(
                    flavorid="2",
                    name="m1.small",
                    vcpus=2,
                    memory_mb=2048,
                    root_gb=20,
                    extra_specs={"hw:cpu_policy": "shared"},
                ),
                Flavor(
                    flavorid="3",
                    name="m1.hidden",
                    vcpus=1,
                    memory_mb=512,
                    root_gb=1,
                    is_public=False,
                ),
                Flavor(flavorid="4", name="m1.huge", vcpus=16, memory_mb=4096, root_gb=10),
                Flavor(flavorid="0", name="m1.nodisk", vcpus=1, memory_mb=512, root_gb=0),
            ]
        )
        for index, (host, zone) in enumerate([("host1", "nova"), ("host2", "az2")], start=1):
            session.add(
                Service(
                    host=host,
                    binary="nova-compute",
                    topic=f"compute.{host}",
                    availability_zone=zone,
                    last_seen_up=now,
                )
            )
            session.add(
                ComputeNode(
                    host=host,
                    hypervisor_hostname=f"{host}.node",
                    vcpus=8,
                    memory_mb=16384,
                    local_gb=100,
                    vcpus_used=index,
                    memory_mb_used=512 * index,
                    running_vms=index,
                )
            )
        for binary in ("nova-conductor", "nova-scheduler"):
            session.add(
                Service(host="controller", binary=binary, topic=binary[5:], last_seen_up=now)
            )


@pytest.fixture
def cloud(runtime: Runtime) -> Iterator[Cloud]:
    """The compute API over a seeded store, with bus doubles of the other services."""
    _seed(runtime)
    log: list[tuple[str, str, dict[str, Any]]] = []
    doubles: dict[str, Any] = {
        "conductor": FakeConductor(log, "conductor"),
        "compute.host1": FakeCompute(log, "compute.host1"),
        "compute.host2": FakeCompute(log, "compute.host2"),
        "image": FakeImage(log, "image"),
        "network": FakeNetwork(log, "network"),
        "volume": FakeVolume(log, "volume"),
    }
    subscriptions = [runtime.bus.serve(t, e, service=t) for t, e in doubles.items()]
    app = DispatcherMiddleware(
        Response("not here", status=404),
        {"/compute": build_app(runtime, authenticate=authenticate)},
    )
    session = requests.Session()
    mount_wsgi(session, "http://cloud.test", app)
    yield Cloud(runtime, session, log)
    runtime.clock.settle()
    for sub in subscriptions:
        sub.stop()
