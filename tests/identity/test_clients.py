"""Unmodified OpenStack clients against the identity API: keystoneauth1 authenticates
(with version discovery) and reads the catalog; openstacksdk administers projects, users
and grants, and the new member gets in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import openstack
import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.exceptions.http import Unauthorized as KsUnauthorized
from keystoneauth1.identity import generic, v3
from openstack.identity.v3._proxy import Proxy as IdentityV3
from openstack.identity.v3.role import Role

from testbed.web.transport import WSGIAdapter

from .helpers import BASE, IDENTITY

WSGIApp = Any


def _session(cloud: WSGIApp, auth: Any) -> ks_session.Session:
    session = ks_session.Session(auth=auth)
    session.session.mount(BASE, WSGIAdapter(cloud))
    return session


def _password(user: str, password: str, project: str) -> generic.Password:
    return generic.Password(
        auth_url=IDENTITY,
        username=user,
        password=password,
        project_name=project,
        user_domain_name="Default",
        project_domain_name="Default",
    )


def test_keystoneauth_discovers_authenticates_and_reads_the_catalog(cloud: WSGIApp) -> None:
    session = _session(cloud, _password("demo", "demo", "demo"))
    assert session.get_token()
    access = session.auth.get_access(session)  # type: ignore[union-attr]
    assert access.project_name == "demo" and access.username == "demo"
    assert sorted(access.role_names) == ["member", "reader"]
    endpoint = session.get_endpoint
    assert endpoint(service_type="compute", interface="public") == f"{BASE}/compute/v2.1"
    assert endpoint(service_type="image", interface="internal") == f"{BASE}/image"
    assert endpoint(service_type="network", interface="admin") == f"{BASE}/network"
    assert endpoint(service_type="block-storage", interface="public") == f"{BASE}/volume/v3"
    whoami = session.get(f"{BASE}/compute/v2.1/whoami").json()
    assert whoami["user_name"] == "demo"


def test_keystoneauth_v3_plugin_and_bad_password(cloud: WSGIApp) -> None:
    good = v3.Password(
        auth_url=f"{IDENTITY}/v3",
        username="admin",
        password="admin",
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
    )
    assert _session(cloud, good).get_project_id()
    bad = v3.Password(
        auth_url=f"{IDENTITY}/v3",
        username="admin",
        password="wrong",
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
    )
    with pytest.raises(KsUnauthorized):
        _session(cloud, bad).get_token()


def _names(items: Iterable[Any]) -> set[str]:
    return {item.name for item in items}


def test_openstacksdk_adds_a_project_and_a_member(cloud: WSGIApp) -> None:
    conn = openstack.connection.Connection(
        session=_session(cloud, _password("admin", "admin", "admin"))
    )
    identity = cast(IdentityV3, conn.identity)
    project = identity.create_project(name="alt", domain_id="default", description="alt")
    user = identity.create_user(
        name="carol", password="carol-pw", domain_id="default", default_project_id=project.id
    )
    member = cast(Role, identity.find_role("member"))
    identity.assign_project_role_to_user(project, user, member)
    assert identity.validate_user_has_project_role(project, user, member)
    assert "alt" in _names(identity.projects())
    assert "carol" in _names(identity.users())
    assignments = list(identity.role_assignments(user_id=user.id))
    assert [(a.scope["project"]["id"], a.role["id"]) for a in assignments] == [
        (project.id, member.id)
    ]

    carol = openstack.connection.Connection(
        session=_session(cloud, _password("carol", "carol-pw", "alt"))
    )
    assert carol.current_project_id == project.id
    assert _names(cast(IdentityV3, carol.identity).user_projects(user.id)) == {"alt"}

    identity.unassign_project_role_from_user(project, user, member)
    identity.delete_user(user)
    identity.delete_project(project)
    assert identity.find_project("alt") is None


def test_openstacksdk_shows_keystone_errors(cloud: WSGIApp, http: requests.Session) -> None:
    conn = openstack.connection.Connection(
        session=_session(cloud, _password("demo", "demo", "demo"))
    )
    with pytest.raises(openstack.exceptions.ForbiddenException) as err:
        cast(IdentityV3, conn.identity).create_project(name="nope")
    assert "identity:create_project" in str(err.value)
