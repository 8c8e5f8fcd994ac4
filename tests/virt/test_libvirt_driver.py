"""The libvirt driver against fakevirt: libvirt calls, states, disks, the trace."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from testbed.compute.states import power_state
from testbed.service import Runtime
from testbed.virt.driver import CAPABILITIES, GuestNotFound, HypervisorError
from testbed.virt.fake import FakeBackend
from testbed.virt.libvirt.driver import LibvirtDriver
from testbed.virt.libvirt.guest_xml import NOVA_NS
from testbed.virt.libvirt.power import power_state_of

from .conftest import NO_VOLUMES, VIF


def domain(driver: LibvirtDriver, instance: dict[str, Any]) -> Any:
    return driver.conn.lookupByUUIDString(instance["uuid"])


def test_spawn_defines_and_boots_the_guest(
    driver: LibvirtDriver, vrt: Runtime, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    started = vrt.clock.now()
    driver.spawn(instance, {"id": "img-1", "size": 1024}, [VIF], NO_VOLUMES)

    assert vrt.clock.now() - started == vrt.config.boot_seconds
    assert driver.get_info(instance).state == power_state.RUNNING
    assert driver.list_instance_uuids() == [instance["uuid"]]
    disk = f"{backend.instances_path}/{instance['uuid']}/disk"
    assert backend.disk_exists("h1", disk)
    assert backend.disk_exists("h2", disk)  # shared-a: same file on both hosts

    xml = ET.fromstring(domain(driver, instance).XMLDesc(0))
    assert xml.get("type") == "qemu"
    assert xml.findtext("name") == "instance-6f0c2a8e"
    assert xml.findtext("uuid") == instance["uuid"]
    assert xml.findtext("vcpu") == "2"
    assert xml.find("memory").text == str(1024 * 1024)  # type: ignore[union-attr]
    assert xml.find("./devices/disk/source").get("file") == disk  # type: ignore[union-attr]
    assert xml.find("./devices/interface/mac").get("address") == VIF["mac_address"]  # type: ignore[union-attr]
    assert (
        xml.find("./devices/serial/source")
        .get("path")
        .endswith(  # type: ignore[union-attr]
            f"{instance['uuid']}.log"
        )
    )
    nova = xml.find(f"./metadata/{{{NOVA_NS}}}instance")
    assert nova is not None and nova.findtext(f"{{{NOVA_NS}}}name") == "web-1"


def test_power_operations_and_their_power_states(
    driver: LibvirtDriver, instance: dict[str, Any]
) -> None:
    driver.spawn(instance, None, [], NO_VOLUMES)
    steps = [
        (lambda: driver.power_off(instance), power_state.SHUTDOWN),
        (lambda: driver.power_on(instance, []), power_state.RUNNING),
        (lambda: driver.pause(instance), power_state.PAUSED),
        (lambda: driver.unpause(instance), power_state.RUNNING),
        (lambda: driver.suspend(instance), power_state.SHUTDOWN),  # managed save: shut off
        (lambda: driver.resume(instance, []), power_state.RUNNING),
        (lambda: driver.reboot(instance, [], "SOFT"), power_state.RUNNING),
        (lambda: driver.reboot(instance, [], "HARD"), power_state.RUNNING),
    ]
    for step, expected in steps:
        step()
        assert driver.get_info(instance).state == expected


def test_suspend_keeps_a_managed_save_image(
    driver: LibvirtDriver, instance: dict[str, Any]
) -> None:
    driver.spawn(instance, None, [], NO_VOLUMES)
    driver.suspend(instance)
    assert domain(driver, instance).hasManagedSaveImage(0) == 1
    driver.resume(instance, [])
    assert domain(driver, instance).hasManagedSaveImage(0) == 0


def test_clean_power_off_falls_back_to_destroy(
    driver: LibvirtDriver, vrt: Runtime, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    driver.spawn(instance, None, [], NO_VOLUMES)
    backend.inject_fault({"kind": "ignore_shutdown", "host": "h1"})
    started = vrt.clock.now()
    driver.power_off(instance, clean_shutdown=True)
    assert vrt.clock.now() - started == vrt.config.shutdown_timeout
    assert driver.get_info(instance).state == power_state.SHUTDOWN


def test_destroy_removes_the_guest_and_its_disk(
    driver: LibvirtDriver, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    driver.spawn(instance, None, [], NO_VOLUMES)
    driver.destroy(instance, [])
    with pytest.raises(GuestNotFound):
        driver.get_info(instance)
    assert not backend.disk_exists("h1", f"{backend.instances_path}/{instance['uuid']}/disk")
    driver.destroy(instance, [])  # a missing guest is not an error


def test_a_failed_start_leaves_nothing_behind(
    driver: LibvirtDriver, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    missing_volume = {
        "block_device_mapping": [
            {
                "connection_info": {"data": {"device_path": "/var/lib/testbed/volumes/nope"}},
                "mount_device": "/dev/vdb",
                "boot_index": None,
            }
        ]
    }
    with pytest.raises(HypervisorError, match="Cannot access storage file"):
        driver.spawn(instance, None, [], missing_volume)
    assert driver.list_instance_uuids() == []
    assert not backend.disk_exists("h1", f"{backend.instances_path}/{instance['uuid']}/disk")


def test_volumes_attach_and_detach(
    driver: LibvirtDriver, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    path = backend.create_volume("vol-1", 1)
    info = {"driver_volume_type": "file", "data": {"device_path": path, "volume_id": "vol-1"}}
    driver.spawn(instance, None, [], NO_VOLUMES)

    driver.attach_volume(info, instance, "/dev/vdb")
    sources = [
        d.get("file") for d in ET.fromstring(domain(driver, instance).XMLDesc(0)).iter("source")
    ]
    assert path in sources
    driver.detach_volume(info, instance, "/dev/vdb")
    sources = [
        d.get("file") for d in ET.fromstring(domain(driver, instance).XMLDesc(0)).iter("source")
    ]
    assert path not in sources


def test_boot_from_volume_has_no_local_root_disk(
    driver: LibvirtDriver, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    path = backend.create_volume("root-vol", 1)
    bdi = {
        "block_device_mapping": [
            {
                "connection_info": {"data": {"device_path": path}},
                "mount_device": "/dev/vda",
                "boot_index": 0,
            }
        ]
    }
    driver.spawn(instance, None, [], bdi)
    xml = ET.fromstring(domain(driver, instance).XMLDesc(0))
    assert [
        (d.find("source").get("file"), d.find("target").get("dev"))  # type: ignore[union-attr]
        for d in xml.iter("disk")
    ] == [(path, "vda")]
    assert not backend.disk_exists("h1", f"{backend.instances_path}/{instance['uuid']}/disk")


def test_available_resource_reports_the_host(driver: LibvirtDriver) -> None:
    res = driver.get_available_resource()
    assert (res["vcpus"], res["memory_mb"], res["local_gb"]) == (8, 8192, 100)
    assert res["hypervisor_type"] == "QEMU" and res["hypervisor_hostname"] == "h1"
    assert res["cpu_info"]["arch"] == "x86_64" and res["cpu_info"]["model"] == "Skylake-Client"


def test_the_host_cpu_is_read_again_after_a_reconnect_and_callers_get_copies(
    driver: LibvirtDriver, backend: FakeBackend
) -> None:
    first = driver.host_cpu_info()
    assert first["model"] == "Skylake-Client"
    first["features"].append("not-a-feature")
    first["model"] = "changed by the caller"
    assert driver.host_cpu_info()["model"] == "Skylake-Client"
    assert "not-a-feature" not in driver.host_cpu_info()["features"]
    backend.crash_host("h1")
    with pytest.raises(HypervisorError):
        driver.host_cpu_info()
    backend.recover_host("h1")
    assert driver.host_cpu_info() == driver.get_available_resource()["cpu_info"]
    assert driver.host_cpu_info()["model"] == "Skylake-Client"


def test_every_driver_call_is_a_driver_trace_event(
    driver: LibvirtDriver, vrt: Runtime, instance: dict[str, Any]
) -> None:
    driver.spawn(instance, None, [], NO_VOLUMES)
    driver.pause(instance)
    events = [e for e in vrt.tracer.for_instance(instance["uuid"]) if e["kind"] == "driver"]
    assert [(e["source"], e["target"], e["name"]) for e in events] == [
        ("compute:h1", "hypervisor:h1", "spawn"),
        ("compute:h1", "hypervisor:h1", "pause"),
    ]
    assert events[0]["detail"]["clock_seconds"] == vrt.config.boot_seconds


def test_the_driver_reconnects_after_the_host_comes_back(
    driver: LibvirtDriver, backend: FakeBackend, instance: dict[str, Any]
) -> None:
    backend.crash_host("h1")
    with pytest.raises(HypervisorError):
        driver.spawn(instance, None, [], NO_VOLUMES)
    backend.recover_host("h1")
    driver.spawn(instance, None, [], NO_VOLUMES)
    assert driver.get_info(instance).state == power_state.RUNNING


def test_capabilities_cover_every_name_and_include_migrations(
    driver: LibvirtDriver, instance: dict[str, Any]
) -> None:
    assert set(driver.capabilities) == set(CAPABILITIES)
    # migrations: testbed/virt/libvirt/migration.py, tested in tests/migration/
    assert driver.capabilities["supports_live_migration"]
    assert driver.capabilities["supports_cold_migration"]


def test_power_state_mapping_follows_nova(backend: FakeBackend) -> None:
    lv = backend.libvirt
    assert power_state_of(lv, lv.VIR_DOMAIN_BLOCKED) == power_state.RUNNING
    assert power_state_of(lv, lv.VIR_DOMAIN_SHUTOFF) == power_state.SHUTDOWN
    assert power_state_of(lv, lv.VIR_DOMAIN_PMSUSPENDED) == power_state.SUSPENDED
    assert power_state_of(lv, lv.VIR_DOMAIN_CRASHED) == power_state.CRASHED


def test_two_backends_are_isolated(backend: FakeBackend) -> None:
    other = FakeBackend()
    other.add_host({"name": "h1", "vcpus": 2, "memory_mb": 1024, "disk_gb": 10})
    a = backend.libvirt.open(backend.uri("h1"))
    b = other.libvirt.open(other.uri("h1"))
    assert a.getInfo()[2] == 8 and b.getInfo()[2] == 2


def test_reconnecting_to_a_hung_host_from_two_threads_lets_the_clock_run(
    vrt: Runtime, backend: FakeBackend, driver: LibvirtDriver
) -> None:
    # The driver's connection dies with the host; while the host then hangs, two calls
    # reopen it at once.  The one waiting for the other must not hold virtual time still
    # (it did when the open happened under a plain lock: the cloud never settled).
    driver.get_available_resource()
    backend.world.inject({"kind": "host_crash", "host": "h1"})
    backend.world.inject({"kind": "host_recover", "host": "h1"})
    backend.world.inject({"kind": "host_hang", "host": "h1", "seconds": 2})
    outcomes: list[str] = []

    def attempt(call: Any) -> Any:
        def run() -> None:
            try:
                call()
                outcomes.append("answered")
            except HypervisorError:
                outcomes.append("timed out")

        return run

    clock = vrt.clock
    for call in (driver.get_available_resource, driver.list_instance_uuids):
        clock.hold()
        clock.submit_held(attempt(call))
    clock.settle(timeout=10)
    assert outcomes == ["timed out", "timed out"]
