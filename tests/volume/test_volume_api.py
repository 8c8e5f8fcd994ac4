"""The Block Storage API v3 over HTTP: Cinder's bodies, statuses and faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from testbed.context import RequestContext
from testbed.image.seed import seed_image
from testbed.image.service import ImageService
from testbed.service import Runtime
from testbed.volume.rpcapi import VolumeAPI

from .storage import RecordingStorage

BASE = "http://testbed.local/volume"
ALICE_URL = f"{BASE}/v3/p-alice"


@pytest.fixture
def image_service(runtime: Runtime) -> Iterator[ImageService]:
    service = ImageService(runtime)
    service.start()
    seed_image(
        runtime,
        [
            {"id": "img-small", "name": "cirros", "size": 21430272, "min_disk": 1},
            {"id": "img-big", "name": "big", "size": 3 * 1024**3, "min_disk": 2},
        ],
    )
    yield service
    service.stop()


@pytest.fixture
def storage(runtime: Runtime) -> RecordingStorage:
    runtime.virt = RecordingStorage()
    return runtime.virt  # type: ignore[no-any-return]


def _create(
    runtime: Runtime, session: requests.Session, url: str = ALICE_URL, **body: Any
) -> dict[str, Any]:
    body.setdefault("size", 1)
    resp = session.post(f"{url}/volumes", json={"volume": body})
    assert resp.status_code == 202, resp.text
    runtime.clock.settle()
    volume: dict[str, Any] = resp.json()["volume"]
    return volume


def test_version_documents(make_session: Any) -> None:
    resp = make_session(None).get(f"{BASE}/")
    assert resp.status_code == 300
    version = resp.json()["versions"][0]
    assert version["id"] == "v3.0" and version["status"] == "CURRENT"
    assert version["min_version"] == "3.0" and version["version"] == "3.70"
    assert {"rel": "self", "href": "http://testbed.local/volume/v3/"} in version["links"]
    assert make_session(None).get(f"{BASE}/v3").status_code == 200


def test_create_is_creating_then_available(
    runtime: Runtime, alice: requests.Session, storage: RecordingStorage
) -> None:
    resp = alice.post(f"{ALICE_URL}/volumes", json={"volume": {"size": 2, "name": "data"}})
    assert resp.status_code == 202
    created = resp.json()["volume"]
    assert created["status"] == "creating" and created["size"] == 2
    runtime.clock.settle()
    shown = alice.get(f"{ALICE_URL}/volumes/{created['id']}").json()["volume"]
    assert shown["status"] == "available" and shown["bootable"] == "false"
    assert shown["attachments"] == [] and shown["availability_zone"] == "nova"
    assert shown["os-vol-tenant-attr:tenant_id"] == "p-alice"
    assert shown["links"][0]["href"] == f"{ALICE_URL}/volumes/{created['id']}"
    assert storage.created == {created["id"]: 2}


def test_both_url_forms_list_the_same_volumes(runtime: Runtime, alice: requests.Session) -> None:
    vol = _create(runtime, alice, name="one")
    _create(runtime, alice, url=f"{BASE}/v3", name="two")
    summary = alice.get(f"{ALICE_URL}/volumes").json()["volumes"]
    assert sorted(v["name"] for v in summary) == ["one", "two"]
    assert set(summary[0]) == {"id", "name", "links"}
    detail = alice.get(f"{BASE}/v3/volumes/detail").json()["volumes"]
    assert {v["id"] for v in detail} >= {vol["id"]} and "status" in detail[0]
    named = alice.get(f"{ALICE_URL}/volumes/detail", params={"name": "two"}).json()["volumes"]
    assert [v["name"] for v in named] == ["two"]


def test_faults_are_nova_style(alice: requests.Session) -> None:
    resp = alice.get(f"{ALICE_URL}/volumes/nope")
    assert resp.status_code == 404
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": "Volume nope could not be found."}
    }
    wrong = alice.get(f"{BASE}/v3/p-bob/volumes")
    assert wrong.status_code == 400
    assert wrong.json() == {"badRequest": {"code": 400, "message": "Malformed request url"}}
    bad_size = alice.post(f"{ALICE_URL}/volumes", json={"volume": {"size": 0}})
    assert bad_size.status_code == 400
    assert "must be an integer and greater than 0" in bad_size.json()["badRequest"]["message"]
    assert alice.post(f"{ALICE_URL}/volumes", json={"size": 1}).status_code == 400


def test_projects_see_only_their_volumes(
    runtime: Runtime, alice: requests.Session, bob: requests.Session, admin: requests.Session
) -> None:
    vol = _create(runtime, alice)
    assert bob.get(f"{BASE}/v3/volumes/{vol['id']}").status_code == 404
    assert bob.get(f"{BASE}/v3/volumes").json()["volumes"] == []
    assert admin.get(f"{BASE}/v3/volumes").json()["volumes"] == []
    everyone = admin.get(f"{BASE}/v3/volumes/detail", params={"all_tenants": "1"}).json()
    assert [v["id"] for v in everyone["volumes"]] == [vol["id"]]
    assert everyone["volumes"][0]["os-vol-host-attr:host"]


def test_bootable_volume_from_an_image(
    runtime: Runtime, alice: requests.Session, image_service: ImageService
) -> None:
    vol = _create(runtime, alice, size=1, imageRef="img-small")
    shown = alice.get(f"{ALICE_URL}/volumes/{vol['id']}").json()["volume"]
    assert shown["bootable"] == "true" and shown["status"] == "available"
    assert shown["volume_image_metadata"]["image_id"] == "img-small"
    assert shown["volume_image_metadata"]["image_name"] == "cirros"
    small = alice.post(f"{ALICE_URL}/volumes", json={"volume": {"size": 1, "imageRef": "img-big"}})
    assert small.status_code == 400
    assert "larger than volume size 1GB" in small.json()["badRequest"]["message"]
    missing = alice.post(f"{ALICE_URL}/volumes", json={"volume": {"size": 1, "imageRef": "x"}})
    assert missing.status_code == 400


def test_delete_only_when_not_attached(
    runtime: Runtime, alice: requests.Session, storage: RecordingStorage
) -> None:
    vol = _create(runtime, alice)
    ctx = RequestContext(user_id="u", project_id="p-alice", roles=("member",))
    attachment = VolumeAPI(runtime.bus).attachment_create(ctx, vol["id"], "vm-1")
    refused = alice.delete(f"{ALICE_URL}/volumes/{vol['id']}")
    assert refused.status_code == 400
    assert refused.json()["badRequest"]["message"].startswith(
        "Invalid volume: Volume status must be available or error"
    )
    VolumeAPI(runtime.bus).attachment_delete(ctx, attachment["id"])
    assert alice.delete(f"{ALICE_URL}/volumes/{vol['id']}").status_code == 202
    runtime.clock.settle()
    assert alice.get(f"{ALICE_URL}/volumes/{vol['id']}").status_code == 404
    assert storage.deleted == [vol["id"]]


def test_backend_failure_leaves_the_volume_in_error(
    runtime: Runtime, alice: requests.Session
) -> None:
    runtime.virt = RecordingStorage(fail=True)
    vol = _create(runtime, alice)
    assert alice.get(f"{ALICE_URL}/volumes/{vol['id']}").json()["volume"]["status"] == "error"
    assert alice.delete(f"{ALICE_URL}/volumes/{vol['id']}").status_code == 202


def test_microversion_is_echoed_and_checked(alice: requests.Session) -> None:
    resp = alice.get(f"{ALICE_URL}/volumes", headers={"OpenStack-API-Version": "volume 3.59"})
    assert resp.headers["OpenStack-API-Version"] == "volume 3.59"
    latest = alice.get(f"{ALICE_URL}/volumes", headers={"OpenStack-API-Version": "volume latest"})
    assert latest.headers["OpenStack-API-Version"] == "volume 3.70"
    too_new = alice.get(f"{ALICE_URL}/volumes", headers={"OpenStack-API-Version": "volume 3.99"})
    assert too_new.status_code == 406


def test_pagination_and_update(runtime: Runtime, alice: requests.Session) -> None:
    for n in range(5):
        _create(runtime, alice, name=f"v{n}")
        runtime.clock.advance(1)
    page = alice.get(f"{ALICE_URL}/volumes", params={"limit": 2}).json()
    names = [v["name"] for v in page["volumes"]]
    while page.get("volumes_links"):
        page = alice.get(page["volumes_links"][0]["href"]).json()
        names += [v["name"] for v in page["volumes"]]
    assert names == ["v4", "v3", "v2", "v1", "v0"]
    first = alice.get(f"{ALICE_URL}/volumes", params={"sort": "name:asc"}).json()["volumes"][0]
    resp = alice.put(
        f"{ALICE_URL}/volumes/{first['id']}",
        json={"volume": {"name": "renamed", "metadata": {"k": "v"}}},
    )
    assert resp.status_code == 200
    assert resp.json()["volume"]["name"] == "renamed"
    assert resp.json()["volume"]["metadata"] == {"k": "v"}
