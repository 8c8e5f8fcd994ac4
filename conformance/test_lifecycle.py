"""lifecycle: boot, list, show, update and delete servers, and what comes with them."""

from __future__ import annotations

import ipaddress

import pytest

from conformance.support import CloudUnderTest, raw

pytestmark = pytest.mark.testbed_capability("lifecycle")


def hypervisor_usage(cloud: CloudUnderTest) -> dict[str, dict[str, int]]:
    """Usage per hypervisor (the fields Nova dropped at 2.88, so asked at 2.87)."""
    body = raw(cloud.conn.compute, "GET", "/os-hypervisors/detail", microversion="2.87").json()
    return {h["hypervisor_hostname"]: h for h in body["hypervisors"]}


@pytest.mark.testbed_id("b2d4acda-d7bd-4a69-9241-253682c6882b")
def test_boot_without_network_reaches_active_and_running(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lc-boot")
    assert server.status == "ACTIVE"
    assert server.vm_state == "active" and server.task_state is None
    assert server.power_state == 1
    assert server.compute_host, "an admin sees the host the server runs on"
    assert server.launched_at


@pytest.mark.testbed_id("714a0a41-0ed8-4ad3-9895-f2dbd22726db")
def test_boot_on_a_network_gets_a_fixed_ip_from_its_subnet(cloud: CloudUnderTest) -> None:
    net = cloud.network("public")
    server = cloud.boot(name="lc-net", networks=[{"uuid": net.id}])
    addresses = server.addresses[net.name]
    assert len(addresses) == 1 and addresses[0]["version"] == 4
    subnet = cloud.conn.network.get_subnet(net.subnet_ids[0])
    assert ipaddress.ip_address(addresses[0]["addr"]) in ipaddress.ip_network(subnet.cidr)
    ports = list(cloud.conn.network.ports(device_id=server.id))
    assert [p.fixed_ips[0]["ip_address"] for p in ports] == [addresses[0]["addr"]]


@pytest.mark.testbed_id("d028f33b-2053-49ac-be25-cf5897fec202")
def test_delete_frees_the_port_and_the_hosts_resources(cloud: CloudUnderTest) -> None:
    net = cloud.network("public")
    server = cloud.boot(
        name="lc-del", networks=[{"uuid": net.id}], flavor_id=cloud.flavor("m1.medium").id
    )
    host = server.hypervisor_hostname
    used = {name: h["vcpus_used"] for name, h in hypervisor_usage(cloud).items()}
    cloud.conn.compute.delete_server(server.id)
    cloud.wait_deleted(server.id)
    assert list(cloud.conn.network.ports(device_id=server.id)) == []
    after = {name: h["vcpus_used"] for name, h in hypervisor_usage(cloud).items()}
    assert after[host] == used[host] - 2


@pytest.mark.testbed_id("b0cbb9b2-5a1c-4fdc-82f7-4585eebe31b0")
def test_several_servers_from_one_request(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lc-multi", min_count=3, max_count=3, wait=None)
    cloud.settle()
    servers = [s for s in cloud.conn.compute.servers(name="^lc-multi") if s.status == "ACTIVE"]
    assert len(servers) == 3
    for s in servers:
        if s.id != server.id:
            cloud.created.append((cloud.conn, s.id))


@pytest.mark.testbed_id("3c4c71a4-eec4-4f71-86b9-ce4fc055e384")
def test_list_filters_by_name_and_status(cloud: CloudUnderTest) -> None:
    a = cloud.boot(name="lc-filter-a")
    b = cloud.boot(name="lc-filter-b")
    cloud.conn.compute.stop_server(b.id)
    cloud.wait(b.id, "SHUTOFF")
    names = {s.name for s in cloud.conn.compute.servers(name="lc-filter-")}
    assert {"lc-filter-a", "lc-filter-b"} <= names
    active = {s.id for s in cloud.conn.compute.servers(name="lc-filter-", status="ACTIVE")}
    assert a.id in active and b.id not in active


@pytest.mark.testbed_id("dcd0125a-c0c9-4abd-8e21-5bfd4a57ffbb")
def test_update_name_and_metadata(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lc-upd", metadata={"role": "web"})
    cloud.conn.compute.update_server(server.id, name="lc-upd-2")
    cloud.conn.compute.set_server_metadata(server.id, tier="front")
    shown = cloud.conn.compute.get_server(server.id)
    assert shown.name == "lc-upd-2"
    assert shown.metadata == {"role": "web", "tier": "front"}


@pytest.mark.testbed_id("445f2b67-2fe8-41ba-aee3-5ece973fa872")
def test_boot_from_volume_attaches_the_root_volume(cloud: CloudUnderTest) -> None:
    image = cloud.image()
    bdm = [
        {
            "boot_index": 0,
            "uuid": image.id,
            "source_type": "image",
            "destination_type": "volume",
            "volume_size": 1,
            "delete_on_termination": True,
        }
    ]
    server = cloud.boot(name="lc-bfv", block_device_mapping=bdm)
    attached = server.attached_volumes
    assert len(attached) == 1
    volume = cloud.conn.block_storage.get_volume(attached[0]["id"])
    assert volume.status == "in-use"
    assert volume.attachments[0]["server_id"] == server.id
    cloud.conn.compute.delete_server(server.id)
    cloud.wait_deleted(server.id)
    assert cloud.conn.block_storage.find_volume(volume.id) is None


@pytest.mark.testbed_id("2d8563fc-318c-40fb-b07e-de97bd5557a9")
def test_attach_and_detach_a_volume(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lc-vol")
    volume = cloud.conn.block_storage.create_volume(size=1, name="lc-vol-data")
    cloud.settle()
    cloud.conn.compute.create_volume_attachment(server, volume_id=volume.id)
    cloud.settle()
    assert cloud.conn.block_storage.get_volume(volume.id).status == "in-use"
    cloud.conn.compute.delete_volume_attachment(server, volume.id)
    cloud.settle()
    assert cloud.conn.block_storage.get_volume(volume.id).status == "available"
    cloud.conn.block_storage.delete_volume(volume.id)
    cloud.settle()


@pytest.mark.testbed_id("927f8a0f-6a0e-4f23-9b86-7341b1ac75a9")
def test_instance_actions_record_create_with_its_events(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lc-actions")
    actions = list(cloud.conn.compute.server_actions(server.id))
    assert [a.action for a in actions] == ["create"]
    action = cloud.conn.compute.get_server_action(actions[0].request_id, server.id)
    assert any(
        e["event"] == "compute_build_and_run_instance" and e["result"] == "Success"
        for e in action.events
    )


@pytest.mark.testbed_id("7edb3fe7-7ddf-43ec-948c-88a784286858")
def test_hypervisors_show_usage_and_services_are_up(cloud: CloudUnderTest) -> None:
    server = cloud.boot(name="lc-hyp")
    assert hypervisor_usage(cloud)[server.hypervisor_hostname]["running_vms"] >= 1
    services = [s for s in cloud.conn.compute.services() if s.binary == "nova-compute"]
    assert services and all(s.state == "up" and s.status == "enabled" for s in services)
