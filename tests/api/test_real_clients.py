"""Unmodified openstacksdk against the compute API (in-process, token auth at the endpoint)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from tests.api.conftest import BASE, IMAGE, Cloud

openstack = pytest.importorskip("openstack")


@pytest.fixture
def sdk(cloud: Cloud) -> Iterator[object]:
    """An openstacksdk connection negotiating microversions with the API."""
    auth = token_endpoint.Token(endpoint=BASE + "/v2.1", token="admin-token")
    session = ks_session.Session(auth=auth, session=cloud.http)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield openstack.connection.Connection(
            session=session, compute_endpoint_override=BASE + "/v2.1"
        )


def test_sdk_server_lifecycle(cloud: Cloud, sdk: object) -> None:
    compute = sdk.compute  # type: ignore[attr-defined]
    assert {f.name for f in compute.flavors()} >= {"m1.tiny", "m1.small"}
    created = compute.create_server(name="x", flavor_id="1", image_id=IMAGE, networks="none")
    assert created.admin_password
    cloud.set_instance(
        created.id, host="host1", node="host1.node", vm_state="active", task_state=None
    )
    server = compute.get_server(created.id)
    assert server.status == "ACTIVE" and server.compute_host == "host1"
    assert server.flavor.original_name == "m1.tiny"
    compute.stop_server(server)
    assert cloud.instance(created.id).task_state == "powering-off"
    assert [a.action for a in compute.server_actions(server)] == ["stop", "create"]
    compute.delete_server(server, force=True)
    assert cloud.calls("compute.host1", "terminate_instance")[0]["task_id"] is None


def test_sdk_admin_views(cloud: Cloud, sdk: object) -> None:
    compute = sdk.compute  # type: ignore[attr-defined]
    services = [s for s in compute.services() if s.binary == "nova-compute"]
    assert {s.host for s in services} == {"host1", "host2"} and services[0].state == "up"
    updated = compute.update_service_forced_down(
        services[0], services[0].host, services[0].binary, True
    )
    assert updated.is_forced_down is True and updated.state == "down"
    hypervisors = list(compute.hypervisors(details=True))
    assert {h.name for h in hypervisors} == {"host1.node", "host2.node"}
    assert list(compute.migrations()) == []
