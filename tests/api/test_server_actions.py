"""Server actions and delete: state checks, task ids, recorded actions, what is cast."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from testbed.compute.models import Allocation, BlockDeviceMapping, InstanceAction
from tests.api.conftest import VOLUME, Cloud


def _action(cloud: Cloud, uuid: str, body: dict[str, Any], **kw: Any) -> Any:
    return cloud.post(f"/v2.1/servers/{uuid}/action", body, **kw)


def _actions(cloud: Cloud, uuid: str) -> list[str]:
    with cloud.runtime.store.session() as session:
        rows = session.scalars(
            select(InstanceAction)
            .where(InstanceAction.instance_uuid == uuid)
            .order_by(InstanceAction.id)
        ).all()
    return [r.action for r in rows]


@pytest.mark.parametrize(
    ("body", "vm_state", "task_state", "rpc"),
    [
        ({"os-stop": None}, "active", "powering-off", "stop_instance"),
        ({"os-start": None}, "stopped", "powering-on", "start_instance"),
        ({"pause": None}, "active", "pausing", "pause_instance"),
        ({"unpause": None}, "paused", "unpausing", "unpause_instance"),
        ({"suspend": None}, "active", "suspending", "suspend_instance"),
        ({"resume": None}, "suspended", "resuming", "resume_instance"),
        ({"reboot": {"type": "SOFT"}}, "active", "rebooting", "reboot_instance"),
        ({"reboot": {"type": "hard"}}, "stopped", "rebooting_hard", "reboot_instance"),
    ],
)
def test_action_sets_the_task_records_and_casts(
    cloud: Cloud, body: dict[str, Any], vm_state: str, task_state: str, rpc: str
) -> None:
    uuid = cloud.active()
    cloud.set_instance(uuid, vm_state=vm_state)
    resp = _action(cloud, uuid, body)
    assert resp.status_code == 202, resp.text
    assert resp.content == b""
    instance = cloud.instance(uuid)
    assert instance.task_state == task_state and instance.task_id
    [cast] = cloud.calls("compute.host1", rpc)
    assert cast["instance_uuid"] == uuid and cast["task_id"] == instance.task_id
    name = next(iter(body)).removeprefix("os-")
    assert _actions(cloud, uuid) == ["create", name]


def test_wrong_vm_state_is_409_with_novas_message_and_changes_nothing(cloud: Cloud) -> None:
    uuid = cloud.active()
    cloud.set_instance(uuid, vm_state="stopped")
    resp = _action(cloud, uuid, {"os-stop": None})
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'stop' instance {uuid} while it is in vm_state stopped"
    )
    assert cloud.instance(uuid).task_state is None
    assert _actions(cloud, uuid) == ["create"]
    assert cloud.calls("compute.host1") == []


def test_running_task_is_409_with_task_state_message(cloud: Cloud) -> None:
    uuid = cloud.active()
    assert _action(cloud, uuid, {"os-stop": None}).status_code == 202
    again = _action(cloud, uuid, {"os-stop": None})
    assert again.status_code == 409
    assert again.json()["conflictingRequest"]["message"] == (
        f"Cannot 'stop' instance {uuid} while it is in task_state powering-off"
    )
    soft = _action(cloud, uuid, {"reboot": {"type": "SOFT"}})
    assert soft.status_code == 409


def test_hard_reboot_may_follow_a_soft_reboot(cloud: Cloud) -> None:
    uuid = cloud.active()
    assert _action(cloud, uuid, {"reboot": {"type": "SOFT"}}).status_code == 202
    assert _action(cloud, uuid, {"reboot": {"type": "HARD"}}).status_code == 202
    assert cloud.instance(uuid).task_state == "rebooting_hard"


def test_bad_action_bodies(cloud: Cloud) -> None:
    uuid = cloud.active()
    assert _action(cloud, uuid, {"reboot": {"type": "WARM"}}).status_code == 400
    assert _action(cloud, uuid, {"reboot": {}}).status_code == 400
    unknown = _action(cloud, uuid, {"fly": None})
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"] == "There is no such action: fly"
    assert _action(cloud, uuid, {"pause": None, "unpause": None}).status_code == 400


@pytest.mark.parametrize(
    "name",
    ["shelve", "rescue", "createImage"],  # moves: tests/migration/
)
def test_actions_of_later_issues_answer_409_not_500(cloud: Cloud, name: str) -> None:
    uuid = cloud.active()
    resp = _action(cloud, uuid, {name: {}}, token="admin-token")
    assert resp.status_code == 409
    assert "not available in this test-bed yet" in resp.json()["conflictingRequest"]["message"]
    assert cloud.instance(uuid).task_state is None


def test_a_build_without_host_is_not_ready_for_stop(cloud: Cloud) -> None:
    uuid = cloud.boot()
    cloud.set_instance(uuid, vm_state="error", task_state=None)
    resp = _action(cloud, uuid, {"os-stop": None})
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == f"Instance {uuid} is not ready"


def test_reset_state_is_admin_only_and_recorded(cloud: Cloud) -> None:
    uuid = cloud.active()
    cloud.set_instance(uuid, task_state="migrating", task_id="t-1")
    member = _action(cloud, uuid, {"os-resetState": {"state": "error"}})
    assert member.status_code == 403
    assert (
        _action(
            cloud, uuid, {"os-resetState": {"state": "paused"}}, token="admin-token"
        ).status_code
        == 400
    )
    ok = _action(cloud, uuid, {"os-resetState": {"state": "error"}}, token="admin-token")
    assert ok.status_code == 202
    instance = cloud.instance(uuid)
    assert (instance.vm_state, instance.task_state, instance.task_id) == ("error", None, None)
    assert _actions(cloud, uuid) == ["create", "resetState"]


def test_delete_casts_terminate_to_a_live_host(cloud: Cloud) -> None:
    uuid = cloud.active()
    assert cloud.delete(f"/v2.1/servers/{uuid}").status_code == 204
    instance = cloud.instance(uuid)
    assert instance.task_state == "deleting" and instance.task_id and not instance.deleted
    [cast] = cloud.calls("compute.host1", "terminate_instance")
    assert cast == {"instance_uuid": uuid, "task_id": instance.task_id}
    assert _actions(cloud, uuid) == ["create", "delete"]


def test_delete_of_an_unscheduled_server_is_local(cloud: Cloud) -> None:
    uuid = cloud.boot()
    assert cloud.delete(f"/v2.1/servers/{uuid}").status_code == 204
    instance = cloud.instance(uuid)
    assert instance.deleted and instance.vm_state == "deleted" and instance.task_state is None
    assert cloud.calls("network", "deallocate_for_instance") == [{"instance_uuid": uuid}]
    assert cloud.get(f"/v2.1/servers/{uuid}").status_code == 404
    assert cloud.calls("compute.host1") == []


def test_delete_when_the_host_is_down_is_local_and_frees_everything(cloud: Cloud) -> None:
    uuid = cloud.active()
    with cloud.runtime.store.session() as session:
        session.add(
            BlockDeviceMapping(
                instance_uuid=uuid,
                source_type="volume",
                destination_type="volume",
                volume_id=VOLUME,
                attachment_id="att-1",
                delete_on_termination=True,
            )
        )
        session.add(
            Allocation(
                consumer_uuid=uuid, node_uuid="n", host="host1", vcpus=1, memory_mb=512, disk_gb=1
            )
        )
    service = cloud.put(
        f"/v2.1/os-services/{cloud.service('host1').uuid}",
        {"forced_down": True},
        token="admin-token",
        version="2.53",
    )
    assert service.status_code == 200
    assert cloud.delete(f"/v2.1/servers/{uuid}").status_code == 204
    assert cloud.instance(uuid).deleted
    assert cloud.calls("volume", "attachment_delete") == [{"attachment_id": "att-1"}]
    assert cloud.calls("volume", "delete_volume") == [{"volume_id": VOLUME}]
    assert cloud.calls("compute.host1") == []
    with cloud.runtime.store.session() as session:
        assert session.scalars(select(Allocation)).all() == []
        assert session.scalars(select(BlockDeviceMapping)).all() == []


def test_delete_waits_for_other_tasks_but_force_delete_preempts(cloud: Cloud) -> None:
    uuid = cloud.active()
    cloud.set_instance(uuid, task_state="migrating", task_id="t-1")
    refused = cloud.delete(f"/v2.1/servers/{uuid}")
    assert refused.status_code == 409
    assert "task_state migrating" in refused.json()["conflictingRequest"]["message"]
    forced = _action(cloud, uuid, {"forceDelete": None})
    assert forced.status_code == 202
    instance = cloud.instance(uuid)
    assert (instance.task_state, instance.task_id) == ("deleting", None)
    [cast] = cloud.calls("compute.host1", "terminate_instance")
    assert cast["task_id"] is None


def test_lock_blocks_members_but_not_admins(cloud: Cloud) -> None:
    uuid = cloud.active()
    assert _action(cloud, uuid, {"lock": None}).status_code == 202
    locked = _action(cloud, uuid, {"os-stop": None})
    assert locked.status_code == 409
    assert locked.json()["conflictingRequest"]["message"] == f"Instance {uuid} is locked"
    assert _action(cloud, uuid, {"os-stop": None}, token="admin-token").status_code == 202
