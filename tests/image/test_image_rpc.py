"""The image service over the bus: what compute services ask of it."""

from __future__ import annotations

import pytest

from testbed.context import RequestContext
from testbed.exceptions import Conflict, Forbidden, NotFound
from testbed.image.rpcapi import ImageAPI
from testbed.image.seed import seed_image
from testbed.image.service import ImageService
from testbed.service import Runtime

ALICE = RequestContext(user_id="u-alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="u-bob", project_id="p-bob", roles=("member",))


def test_get_image_returns_core_attributes_and_properties(
    runtime: Runtime, image_service: ImageService
) -> None:
    seed_image(
        runtime,
        [
            {
                "id": "img-1",
                "name": "cirros",
                "size": 100,
                "min_disk": 1,
                "properties": {"hw_disk_bus": "scsi"},
            }
        ],
    )
    image = ImageAPI(runtime.bus).get_image(ALICE, "img-1")
    assert image["status"] == "active" and image["disk_format"] == "qcow2"
    assert image["min_disk"] == 1 and image["size"] == 100
    assert image["properties"] == {"hw_disk_bus": "scsi"}
    assert "self" not in image


def test_get_image_of_another_projects_private_image_is_not_found(
    runtime: Runtime, image_service: ImageService
) -> None:
    seed_image(
        runtime, [{"id": "img-2", "name": "secret", "visibility": "private", "owner": "p-alice"}]
    )
    api = ImageAPI(runtime.bus)
    assert api.get_image(ALICE, "img-2")["name"] == "secret"
    with pytest.raises(NotFound, match="No image found with ID img-2"):
        api.get_image(BOB, "img-2")
    assert api.get_image(RequestContext.admin(), "img-2")["owner"] == "p-alice"


def test_snapshot_flow_create_activate_delete(
    runtime: Runtime, image_service: ImageService
) -> None:
    api = ImageAPI(runtime.bus)
    image = api.create_image(
        ALICE,
        {
            "name": "snap",
            "disk_format": "qcow2",
            "container_format": "bare",
            "image_type": "snapshot",
        },
    )
    assert image["status"] == "queued" and image["properties"] == {"image_type": "snapshot"}
    active = api.activate_image(ALICE, image["id"], 4096)
    assert active["status"] == "active" and active["size"] == 4096
    with pytest.raises(Conflict):
        api.activate_image(ALICE, image["id"], 1)
    with pytest.raises(NotFound):
        api.delete_image(BOB, image["id"])
    with pytest.raises(Forbidden):
        api.create_image(BOB, {"name": "x", "visibility": "public"})
    api.delete_image(ALICE, image["id"])
    with pytest.raises(NotFound):
        api.get_image(ALICE, image["id"])
