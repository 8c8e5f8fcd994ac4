"""Client connections to a cloud: openstacksdk in-process, and clouds.yaml for the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CREDENTIALS", "clouds_yaml", "in_process_connection", "write_clouds_yaml"]

IN_PROCESS_URL = "http://testbed.local"

# The seeded users (see docs/identity.md): user -> (password, project).
CREDENTIALS = {"admin": ("admin", "admin"), "demo": ("demo", "demo")}

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _auth(base_url: str, user: str, password: str | None, project: str | None) -> dict[str, str]:
    default_password, default_project = CREDENTIALS.get(user, (user, user))
    return {
        "auth_url": f"{base_url}/identity/v3",
        "username": user,
        "password": password if password is not None else default_password,
        "project_name": project or default_project,
        "user_domain_id": "default",
        "project_domain_id": "default",
    }


def in_process_connection(
    app: WSGIApp,
    *,
    user: str = "admin",
    password: str | None = None,
    project: str | None = None,
) -> Any:
    """An openstacksdk ``Connection`` whose HTTP requests go straight into ``app``."""
    import openstack.connection
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    from testbed.web.transport import mount_wsgi

    fields = _auth(IN_PROCESS_URL, user, password, project)
    auth = v3.Password(
        auth_url=fields["auth_url"],
        username=fields["username"],
        password=fields["password"],
        project_name=fields["project_name"],
        user_domain_id=fields["user_domain_id"],
        project_domain_id=fields["project_domain_id"],
    )
    session = ks_session.Session(auth=auth)
    mount_wsgi(session.session, IN_PROCESS_URL, app)
    return openstack.connection.Connection(
        session=session,
        region_name="RegionOne",
        compute_api_version="2",
        identity_interface="public",
    )


def clouds_yaml(base_url: str) -> dict[str, Any]:
    """A clouds.yaml document: cloud ``testbed`` (admin) and ``testbed-demo`` (demo)."""
    clouds = {}
    for name, user in (("testbed", "admin"), ("testbed-demo", "demo")):
        clouds[name] = {
            "auth": _auth(base_url, user, None, None),
            "region_name": "RegionOne",
            "identity_api_version": 3,
            "interface": "public",
        }
    return {"clouds": clouds}


def write_clouds_yaml(path: str | Path, base_url: str) -> Path:
    """Write :func:`clouds_yaml` to ``path``; returns the path."""
    target = Path(path)
    target.write_text(yaml.safe_dump(clouds_yaml(base_url), sort_keys=False))
    return target
