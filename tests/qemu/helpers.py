"""What the tests driving the qemu cloud through its APIs share."""

from __future__ import annotations

from typing import Any

SETTLE = 300.0  # real seconds a settle may take (TCG boots under load)


def boot(cloud: Any, conn: Any, name: str, **attrs: Any) -> Any:
    """A server (m1.tiny, tiny-linux, no network unless told), settled."""
    attrs.setdefault("flavor_id", conn.compute.find_flavor("m1.tiny").id)
    attrs.setdefault("image_id", conn.image.find_image("tiny-linux").id)
    attrs.setdefault("networks", "none")
    server = conn.compute.create_server(name=name, **attrs)
    cloud.settle(SETTLE)
    return conn.compute.get_server(server.id)


def delete(cloud: Any, conn: Any, server_id: str) -> None:
    """Force-delete a server and wait until it is gone."""
    conn.compute.delete_server(server_id, force=True)
    cloud.settle(SETTLE)
    assert conn.compute.find_server(server_id) is None


def domain(virt: Any, host: str, uuid: str) -> Any:
    """The libvirt domain of an instance on ``host`` (a connection of its own)."""
    conn = virt.libvirt.open(virt.uri(host))
    return conn.lookupByUUIDString(uuid)


def serial(virt: Any, host: str, uuid: str) -> str:
    """The text of the instance's serial log on ``host``."""
    text: str = virt.node(host).read_file(f"{virt.serial_dir}/{uuid}.log")
    return text


def act(cloud: Any, conn: Any, server_id: str, body: dict[str, Any], code: int = 202) -> Any:
    """POST a server action (``code`` expected), settle, return the server."""
    response = conn.compute.post(f"/servers/{server_id}/action", json=body)
    assert response.status_code == code, response.text
    cloud.settle(SETTLE)
    return conn.compute.get_server(server_id)
