"""The Image API v2 over HTTP: Glance's representation, rules and error bodies."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from testbed.image.seed import seed_image
from testbed.service import Runtime

BASE = "http://testbed.local/image"

CIRROS = {
    "id": "6a1c7d4e-0c5e-4a53-9f0a-2b1f6c8e9d01",
    "name": "cirros",
    "disk_format": "qcow2",
    "container_format": "bare",
    "size": 21430272,
    "min_disk": 1,
    "min_ram": 0,
    "visibility": "public",
    "properties": {"hw_disk_bus": "virtio"},
}


def _create(session: requests.Session, **body: Any) -> dict[str, Any]:
    body.setdefault("disk_format", "raw")
    body.setdefault("container_format", "bare")
    resp = session.post(f"{BASE}/v2/images", json=body)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def test_version_document_is_public_with_absolute_links(make_session: Any) -> None:
    resp = make_session(None).get(f"{BASE}/")
    assert resp.status_code == 300
    current = resp.json()["versions"][0]
    assert current["status"] == "CURRENT" and current["id"] == "v2.16"
    assert current["links"][0]["href"] == "http://testbed.local/image/v2/"
    assert make_session(None).get(f"{BASE}/versions").status_code == 200


def test_requests_without_credentials_are_refused(make_session: Any) -> None:
    resp = make_session(None).get(f"{BASE}/v2/images")
    assert resp.status_code == 401
    assert resp.json()["title"] == "Unauthorized"


def test_seeded_image_is_shown_as_glance_does(runtime: Runtime, alice: requests.Session) -> None:
    seed_image(runtime, [CIRROS])
    body = alice.get(f"{BASE}/v2/images/{CIRROS['id']}").json()
    assert body["status"] == "active" and body["visibility"] == "public"
    assert body["size"] == 21430272 and body["min_disk"] == 1
    assert body["hw_disk_bus"] == "virtio"
    assert body["self"] == f"/v2/images/{CIRROS['id']}"
    assert body["file"] == f"/v2/images/{CIRROS['id']}/file"
    assert body["schema"] == "/v2/schemas/image"
    assert body["created_at"].endswith("Z")


def test_create_upload_download_delete(alice: requests.Session) -> None:
    image = _create(alice, name="mine", tags=["a"], os_distro="cirros")
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["owner"] == "p-alice" and image["size"] is None
    assert image["os_distro"] == "cirros" and image["tags"] == ["a"]
    data = b"x" * 1000
    resp = alice.put(
        f"{BASE}/v2/images/{image['id']}/file",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 204, resp.text
    shown = alice.get(f"{BASE}/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["size"] == 1000
    assert shown["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    download = alice.get(f"{BASE}/v2/images/{image['id']}/file")
    assert download.status_code == 200 and download.content == data
    again = alice.put(
        f"{BASE}/v2/images/{image['id']}/file",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert again.status_code == 409
    assert alice.delete(f"{BASE}/v2/images/{image['id']}").status_code == 204
    gone = alice.get(f"{BASE}/v2/images/{image['id']}")
    assert gone.status_code == 404
    assert gone.json() == {
        "message": f"No image found with ID {image['id']}",
        "code": "404 Not Found",
        "title": "Not Found",
    }


def test_upload_needs_formats_and_octet_stream(alice: requests.Session) -> None:
    bare = alice.post(f"{BASE}/v2/images", json={"name": "no-format"}).json()
    resp = alice.put(
        f"{BASE}/v2/images/{bare['id']}/file",
        data=b"abc",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert resp.status_code == 400
    assert "disk_format, container_format must be set" in resp.json()["message"]
    image = _create(alice, name="formatted")
    resp = alice.put(
        f"{BASE}/v2/images/{image['id']}/file", data=b"abc", headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 415


def test_create_refuses_read_only_and_invalid_attributes(alice: requests.Session) -> None:
    resp = alice.post(f"{BASE}/v2/images", json={"name": "x", "status": "active"})
    assert resp.status_code == 403 and resp.json()["message"] == "Attribute 'status' is read-only."
    resp = alice.post(f"{BASE}/v2/images", json={"name": "x", "disk_format": "floppy"})
    assert resp.status_code == 400 and "floppy" in resp.json()["message"]
    resp = alice.post(f"{BASE}/v2/images", json={"name": "x", "min_ram": "lots"})
    assert resp.status_code == 400
    resp = alice.post(f"{BASE}/v2/images", json={"name": "x", "visibility": "public"})
    assert resp.status_code == 403


def test_visibility_between_projects(
    runtime: Runtime, alice: requests.Session, bob: requests.Session, admin: requests.Session
) -> None:
    seed_image(runtime, [CIRROS])
    private = _create(alice, name="alice-private", visibility="private")
    community = _create(alice, name="alice-community", visibility="community")
    assert bob.get(f"{BASE}/v2/images/{private['id']}").status_code == 404
    assert bob.get(f"{BASE}/v2/images/{community['id']}").status_code == 200
    bob_names = {i["name"] for i in bob.get(f"{BASE}/v2/images").json()["images"]}
    assert bob_names == {"cirros"}
    bob_community = bob.get(f"{BASE}/v2/images", params={"visibility": "community"}).json()
    assert [i["name"] for i in bob_community["images"]] == ["alice-community"]
    alice_names = {i["name"] for i in alice.get(f"{BASE}/v2/images").json()["images"]}
    assert alice_names == {"cirros", "alice-private", "alice-community"}
    assert admin.get(f"{BASE}/v2/images/{private['id']}").status_code == 200
    assert bob.delete(f"{BASE}/v2/images/{CIRROS['id']}").status_code == 403
    public = _create(admin, name="by-admin", visibility="public")
    assert bob.get(f"{BASE}/v2/images/{public['id']}").status_code == 200


def test_list_filters(runtime: Runtime, alice: requests.Session) -> None:
    seed_image(runtime, [CIRROS])
    _create(alice, name="one", os_distro="ubuntu")
    _create(alice, name="two")

    def names(**params: str) -> list[str]:
        return sorted(
            i["name"] for i in alice.get(f"{BASE}/v2/images", params=params).json()["images"]
        )

    assert names(name="one") == ["one"]
    assert names(status="active") == ["cirros"]
    assert names(status="queued") == ["one", "two"]
    assert names(visibility="public") == ["cirros"]
    assert names(os_distro="ubuntu") == ["one"]
    assert names(name="in:one,cirros") == ["cirros", "one"]
    assert alice.get(f"{BASE}/v2/images", params={"sort_key": "bogus"}).status_code == 400


def test_pagination_with_marker_and_next_links(runtime: Runtime, alice: requests.Session) -> None:
    for n in range(5):
        _create(alice, name=f"img-{n}")
        runtime.clock.advance(1)
    first = alice.get(f"{BASE}/v2/images", params={"limit": "2"}).json()
    assert [i["name"] for i in first["images"]] == ["img-4", "img-3"]
    assert first["first"] == "/v2/images?limit=2"
    assert first["schema"] == "/v2/schemas/images"
    seen = [i["name"] for i in first["images"]]
    link = first["next"]
    while link:
        page = alice.get(f"{BASE}{link}").json()
        seen += [i["name"] for i in page["images"]]
        link = page.get("next")
    assert seen == ["img-4", "img-3", "img-2", "img-1", "img-0"]
    asc = alice.get(f"{BASE}/v2/images", params={"sort": "name:asc"}).json()
    assert [i["name"] for i in asc["images"]] == [f"img-{n}" for n in range(5)]
    bad = alice.get(f"{BASE}/v2/images", params={"marker": "nope"})
    assert bad.status_code == 400 and bad.json()["message"] == "No image found with ID nope"


def test_patch_with_json_patch(alice: requests.Session) -> None:
    image = _create(alice, name="before", os_distro="fedora")
    url = f"{BASE}/v2/images/{image['id']}"
    media = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    resp = alice.patch(
        url,
        json=[
            {"op": "replace", "path": "/name", "value": "after"},
            {"op": "add", "path": "/hw_machine_type", "value": "q35"},
            {"op": "remove", "path": "/os_distro"},
            {"op": "replace", "path": "/min_ram", "value": 256},
        ],
        headers=media,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["name"] == "after" and body["hw_machine_type"] == "q35"
    assert "os_distro" not in body and body["min_ram"] == 256
    assert (
        alice.patch(url, json=[], headers={"Content-Type": "application/json"}).status_code == 415
    )
    read_only = alice.patch(
        url, json=[{"op": "replace", "path": "/status", "value": "active"}], headers=media
    )
    assert read_only.status_code == 403


def test_protected_image_cannot_be_deleted(alice: requests.Session) -> None:
    image = _create(alice, name="keep", protected=True)
    resp = alice.delete(f"{BASE}/v2/images/{image['id']}")
    assert resp.status_code == 403
    assert resp.json()["message"] == f"Image {image['id']} is protected and cannot be deleted."


def test_deactivate_and_reactivate(alice: requests.Session) -> None:
    image = _create(alice, name="d")
    alice.put(
        f"{BASE}/v2/images/{image['id']}/file",
        data=b"1",
        headers={"Content-Type": "application/octet-stream"},
    )
    url = f"{BASE}/v2/images/{image['id']}"
    assert alice.post(f"{url}/actions/deactivate").status_code == 204
    assert alice.get(url).json()["status"] == "deactivated"
    assert alice.post(f"{url}/actions/reactivate").status_code == 204
    assert alice.get(url).json()["status"] == "active"


def test_schemas_are_served(alice: requests.Session) -> None:
    assert alice.get(f"{BASE}/v2/schemas/image").json()["name"] == "image"
    assert alice.get(f"{BASE}/v2/schemas/images").json()["name"] == "images"
