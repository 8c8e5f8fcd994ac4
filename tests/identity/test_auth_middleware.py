"""``testbed.identity.auth.authenticate`` as the other APIs use it: the token is checked
by identity over the bus, and the caller's context reaches the handler."""

from __future__ import annotations

import pytest
import requests

from testbed.context import RequestContext
from testbed.exceptions import NotFound, Unauthorized
from testbed.identity.rpcapi import IdentityAPI
from testbed.service import Runtime

from .helpers import BASE, V3, issue

WHOAMI = f"{BASE}/compute/v2.1/whoami"


def test_a_valid_token_gives_the_callers_context(
    http: requests.Session, rt: Runtime, demo_token: str
) -> None:
    resp = http.get(WHOAMI, headers={"X-Auth-Token": demo_token})
    assert resp.status_code == 200
    me = resp.json()
    assert me["user_name"] == "demo" and me["project_name"] == "demo"
    assert set(me["roles"]) == {"member", "reader"}
    checks = [e for e in rt.tracer.for_request(me["request_id"]) if e["kind"] == "rpc.call"]
    assert [(e["source"], e["target"], e["name"]) for e in checks] == [
        ("api", "identity", "validate_token")
    ]


def test_no_token_or_a_bad_one_is_a_401_in_the_apis_own_format(
    http: requests.Session, rt: Runtime
) -> None:
    missing = http.get(WHOAMI)
    assert missing.status_code == 401
    assert missing.json()["unauthorized"]["code"] == 401
    bogus = http.get(WHOAMI, headers={"X-Auth-Token": "bogus"})
    assert bogus.status_code == 401
    assert "Traceback" not in bogus.text


def test_expired_tokens_are_refused(http: requests.Session, rt: Runtime) -> None:
    token = issue(http, "admin", "admin", "admin")
    assert http.get(WHOAMI, headers={"X-Auth-Token": token}).status_code == 200
    rt.clock.advance(rt.config.token_expiration)
    assert http.get(WHOAMI, headers={"X-Auth-Token": token}).status_code == 401


def test_rpc_validate_token_and_project_lookups(
    http: requests.Session, rt: Runtime, admin_token: str
) -> None:
    identity = IdentityAPI(rt.bus)
    ctx = RequestContext.admin()
    summary = identity.validate_token(ctx, admin_token)
    assert summary["user_name"] == "admin" and summary["project_name"] == "admin"
    assert "admin" in summary["roles"]
    assert summary["expires_at"] == "2026-01-01T01:00:00.000000Z"
    assert summary["expires"] == rt.clock.now() + rt.config.token_expiration
    project = identity.find_project(ctx, "demo")
    assert identity.get_project(ctx, project["id"])["name"] == "demo"
    assert identity.get_user(ctx, summary["user_id"])["name"] == "admin"
    with pytest.raises(Unauthorized):
        identity.validate_token(ctx, "bogus")
    with pytest.raises(NotFound):
        identity.get_project(ctx, "nope")
    with pytest.raises(NotFound):
        identity.find_project(ctx, "nope")
    revoke = http.delete(
        f"{V3}/auth/tokens", headers={"X-Auth-Token": admin_token, "X-Subject-Token": admin_token}
    )
    assert revoke.status_code == 204
    with pytest.raises(Unauthorized):
        identity.validate_token(ctx, admin_token)
