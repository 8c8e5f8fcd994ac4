"""Constants and helpers of the identity tests: URLs, auth bodies, Keystone error checks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import requests
from sqlalchemy import event

from testbed.service import Runtime

BASE = "http://testbed.local"
IDENTITY = f"{BASE}/identity"
V3 = f"{IDENTITY}/v3"


def password_auth(
    user: str,
    password: str,
    project: str | None = None,
    *,
    scope: Any = None,
) -> dict[str, Any]:
    """The body of ``POST /v3/auth/tokens`` for a user and project of the default domain."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
        }
    }
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    elif scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def issue(http: requests.Session, user: str, password: str, project: str | None = None) -> str:
    """A token for ``user`` (scoped to ``project`` if given); fails the test otherwise."""
    resp = http.post(f"{V3}/auth/tokens", json=password_auth(user, password, project))
    assert resp.status_code == 201, resp.text
    return str(resp.headers["X-Subject-Token"])


def keystone_error(resp: requests.Response, code: int) -> str:
    """Assert a Keystone error body with this code; returns its message."""
    assert resp.status_code == code, resp.text
    error = resp.json()["error"]
    assert error["code"] == code
    assert isinstance(error["title"], str) and error["title"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in resp.text
    return str(error["message"])


@contextlib.contextmanager
def identity_sql(rt: Runtime) -> Iterator[list[str]]:
    """The SQL statements on identity's tables run inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "identity_" in statement:
            seen.append(statement)

    event.listen(rt.store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(rt.store.engine, "before_cursor_execute", record)
