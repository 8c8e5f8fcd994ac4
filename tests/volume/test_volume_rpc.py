"""The volume service over the bus: Cinder's attachment flow as Nova drives it."""

from __future__ import annotations

import pytest

from testbed.context import RequestContext
from testbed.exceptions import BadRequest, Conflict, NotFound
from testbed.service import Runtime
from testbed.volume.rpcapi import VolumeAPI
from testbed.volume.seed import seed_volume
from testbed.volume.service import VolumeService

from .storage import RecordingStorage

ALICE = RequestContext(user_id="u-alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="u-bob", project_id="p-bob", roles=("member",))


@pytest.fixture
def api(runtime: Runtime, volume_service: VolumeService) -> VolumeAPI:
    return VolumeAPI(runtime.bus)


def test_create_volume_is_available_when_returned(api: VolumeAPI) -> None:
    vol = api.create_volume(ALICE, 3, name="root")
    assert vol["status"] == "available" and vol["size"] == 3 and vol["name"] == "root"
    assert api.get_volume(ALICE, vol["id"])["id"] == vol["id"]
    with pytest.raises(NotFound, match=f"Volume {vol['id']} could not be found."):
        api.get_volume(BOB, vol["id"])


def test_attachment_flow(runtime: Runtime, api: VolumeAPI) -> None:
    runtime.virt = RecordingStorage()
    vol = api.create_volume(ALICE, 1)
    att = api.attachment_create(ALICE, vol["id"], "vm-1")
    assert att["status"] == "reserved" and att["instance_uuid"] == "vm-1"
    assert att["connection_info"] is None
    assert api.get_volume(ALICE, vol["id"])["status"] == "reserved"
    updated = api.attachment_update(ALICE, att["id"], {"host": "cmp-a1", "mountpoint": "/dev/vdb"})
    assert updated["connection_info"] == {
        "driver_volume_type": "file",
        "data": {"device_path": f"/srv/volumes/{vol['id']}"},
    }
    assert api.get_volume(ALICE, vol["id"])["status"] == "attaching"
    api.attachment_complete(ALICE, att["id"])
    shown = api.get_volume(ALICE, vol["id"])
    assert shown["status"] == "in-use"
    assert shown["attachments"] == [
        {
            "id": vol["id"],
            "attachment_id": att["id"],
            "volume_id": vol["id"],
            "server_id": "vm-1",
            "host_name": "cmp-a1",
            "device": "/dev/vdb",
            "attached_at": shown["attachments"][0]["attached_at"],
        }
    ]
    assert api.attachment_get(ALICE, att["id"])["status"] == "attached"
    api.attachment_delete(ALICE, att["id"])
    assert api.get_volume(ALICE, vol["id"])["status"] == "available"
    with pytest.raises(NotFound, match="attachment_id = "):
        api.attachment_delete(ALICE, att["id"])


def test_default_device_path_without_a_backend(api: VolumeAPI) -> None:
    vol = api.create_volume(ALICE, 1)
    att = api.attachment_create(ALICE, vol["id"], "vm-1")
    info = api.attachment_update(ALICE, att["id"], {"host": "h"})["connection_info"]
    assert info["data"]["device_path"] == f"/var/lib/testbed/volumes/volume-{vol['id']}"


def test_in_use_volume_takes_a_second_attachment_only_for_the_same_instance(
    api: VolumeAPI,
) -> None:
    vol = api.create_volume(ALICE, 1)
    first = api.attachment_create(ALICE, vol["id"], "vm-1")
    api.attachment_update(ALICE, first["id"], {"host": "src"})
    api.attachment_complete(ALICE, first["id"])
    with pytest.raises(Conflict, match="current status is in-use"):
        api.attachment_create(ALICE, vol["id"], "vm-2")
    migration = api.attachment_create(ALICE, vol["id"], "vm-1")
    api.attachment_update(ALICE, migration["id"], {"host": "dst"})
    api.attachment_complete(ALICE, migration["id"])
    api.attachment_delete(ALICE, first["id"])
    shown = api.get_volume(ALICE, vol["id"])
    assert shown["status"] == "in-use"
    assert [a["host_name"] for a in shown["attachments"]] == ["dst"]


def test_multiattach_volume_attaches_to_two_instances(runtime: Runtime, api: VolumeAPI) -> None:
    seed_volume(
        runtime, [{"id": "shared-vol", "size": 1, "project_id": "p-alice", "multiattach": True}]
    )
    for instance in ("vm-1", "vm-2"):
        att = api.attachment_create(ALICE, "shared-vol", instance)
        api.attachment_update(ALICE, att["id"], {"host": "h"})
        api.attachment_complete(ALICE, att["id"])
    assert len(api.get_volume(ALICE, "shared-vol")["attachments"]) == 2


def test_delete_volume(runtime: Runtime, api: VolumeAPI) -> None:
    storage = RecordingStorage()
    runtime.virt = storage
    vol = api.create_volume(ALICE, 1)
    api.attachment_create(ALICE, vol["id"], "vm-1")
    with pytest.raises(BadRequest, match="Invalid volume"):
        api.delete_volume(ALICE, vol["id"])
    other = api.create_volume(ALICE, 1)
    api.delete_volume(ALICE, other["id"])
    assert storage.deleted == [other["id"]]
    with pytest.raises(NotFound):
        api.get_volume(ALICE, other["id"])
