"""The identity revision and the validation cache at the managers' seam: every write
changes the revision (reads and issuing a token do not), a database shared by two
processes keeps their caches honest, and the cache stays within its bounds."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from testbed.config import Config
from testbed.exceptions import Unauthorized
from testbed.identity.manager import IdentityManager
from testbed.identity.models import User
from testbed.identity.revision import current_revision
from testbed.identity.seed import seed_identity, seeded_id
from testbed.identity.token_cache import ValidationCache
from testbed.identity.tokens import revoke_tokens_of_user
from testbed.runtime import build_runtime
from testbed.service import Runtime
from testbed.store.migrate import upgrade

from ..store.conftest import scratch_database
from .helpers import identity_sql

START = 1_767_225_600.0


def revision(rt: Runtime) -> str | None:
    with rt.store.session() as s:
        return current_revision(s.connection())


def password_auth(user: str, password: str, project: str) -> dict[str, Any]:
    return {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
        },
        "scope": {"project": {"name": project, "domain": {"id": "default"}}},
    }


def assert_cached(manager: IdentityManager, token: str) -> None:
    """Validating ``token`` again is answered from the cache: one SELECT, of the revision."""
    manager.tokens.validate(token)
    with identity_sql(manager.runtime) as sql:
        manager.tokens.validate(token)
    assert len(sql) == 1 and "FROM identity_revision" in sql[0], sql


# -- every write changes the revision --------------------------------------------------------
Step = tuple[str, Callable[[IdentityManager, dict[str, Any]], Any], bool]

STEPS: list[Step] = [
    (
        "issue a token",
        lambda m, ids: ids.update(token=m.tokens.issue(password_auth("demo", "demo", "demo"))[0]),
        False,
    ),
    ("validate it", lambda m, ids: m.tokens.validate(ids["token"]), False),
    ("list and get", lambda m, ids: (m.resources.list_users(), m.resources.list_roles()), False),
    ("list assignments", lambda m, ids: m.assignments.list_assignments(effective=True), False),
    (
        "create a domain",
        lambda m, ids: ids.update(domain=m.resources.create_domain("d")["id"]),
        True,
    ),
    (
        "update a domain",
        lambda m, ids: m.resources.update_domain(ids["domain"], {"enabled": False}),
        True,
    ),
    (
        "create a project",
        lambda m, ids: ids.update(project=m.resources.create_project("p")["id"]),
        True,
    ),
    (
        "update a project",
        lambda m, ids: m.resources.update_project(ids["project"], {"description": "x"}),
        True,
    ),
    (
        "create a user",
        lambda m, ids: ids.update(user=m.resources.create_user("u", password="pw")["id"]),
        True,
    ),
    ("update a user", lambda m, ids: m.resources.update_user(ids["user"], {"email": "u@x"}), True),
    (
        "change a password",
        lambda m, ids: m.resources.change_password(ids["user"], "pw", "pw2"),
        True,
    ),
    ("create a role", lambda m, ids: ids.update(role=m.resources.create_role("r")["id"]), True),
    ("update a role", lambda m, ids: m.resources.update_role(ids["role"], {"name": "r2"}), True),
    (
        "grant a role",
        lambda m, ids: m.assignments.grant(ids["project"], ids["user"], ids["role"]),
        True,
    ),
    (
        "check a grant",
        lambda m, ids: m.assignments.check(ids["project"], ids["user"], ids["role"]),
        False,
    ),
    (
        "imply a role",
        lambda m, ids: m.assignments.imply(ids["role"], seeded_id("role", "reader")),
        True,
    ),
    (
        "revoke a grant",
        lambda m, ids: m.assignments.revoke(ids["project"], ids["user"], ids["role"]),
        True,
    ),
    ("revoke a token", lambda m, ids: m.tokens.revoke(ids["token"]), True),
    (
        "revoke a user's tokens",
        lambda m, ids: revoke_tokens_of_user(m.runtime.store, ids["user"]),
        True,
    ),
    ("purge expired tokens", lambda m, ids: m.tokens.purge_expired(), True),
    ("delete a role", lambda m, ids: m.resources.delete_role(ids["role"]), True),
    ("delete a user", lambda m, ids: m.resources.delete_user(ids["user"]), True),
    ("delete a project", lambda m, ids: m.resources.delete_project(ids["project"]), True),
    ("delete a domain", lambda m, ids: m.resources.delete_domain(ids["domain"]), True),
    ("seed again", lambda m, ids: seed_identity(m.runtime, {}), True),
]


def test_every_identity_write_changes_the_revision_and_nothing_else_does(rt: Runtime) -> None:
    manager = IdentityManager(rt)
    ids: dict[str, Any] = {}
    seen = {revision(rt)}
    for name, step, writes in STEPS:
        before = revision(rt)
        step(manager, ids)
        after = revision(rt)
        assert after is not None and re.fullmatch("[0-9a-f]{32}", after), name
        if writes:
            assert after not in seen, f"{name} left the revision as it was"
        else:
            assert after == before, f"{name} changed the revision"
        seen.add(after)


def test_a_write_rolled_back_leaves_the_revision_alone(rt: Runtime) -> None:
    before = revision(rt)
    with pytest.raises(RuntimeError), rt.store.session() as s:
        s.execute(update(User).values(enabled=False))
        raise RuntimeError("the transaction fails after its write")
    assert revision(rt) == before
    with rt.store.session() as s:
        s.execute(update(User).where(User.name == "nobody").values(enabled=False))
    assert revision(rt) != before  # a Core statement, even one that matched no row


# -- one database, two processes ----------------------------------------------------------------
@pytest.fixture(params=["sqlite-file", "postgresql", "mariadb"])
def shared_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """A database two runtimes share: a SQLite file, or a migrated PostgreSQL or MariaDB
    database (skipped when the server is unreachable, as the store's tests are)."""
    if request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'identity.db'}"
        return
    with scratch_database(request.param) as url:
        upgrade(url)
        yield url


@contextlib.contextmanager
def process(url: str) -> Iterator[IdentityManager]:
    """What an identity process has: its own runtime, engine and managers."""
    rt = build_runtime(Config().with_overrides(database_url=url), clock_start=START)
    try:
        yield IdentityManager(rt)
    finally:
        rt.bus.close()
        rt.clock.close()
        rt.store.close()


def test_a_new_schema_starts_with_a_revision_of_its_own(shared_url: str) -> None:
    with process(shared_url) as a, process(shared_url) as b:
        first = revision(a.runtime)
        assert first is not None and revision(b.runtime) == first
        b.runtime.store.drop_schema()
        b.runtime.store.create_schema()
        assert revision(a.runtime) not in (None, first)


def test_a_write_by_another_process_is_seen_at_once(shared_url: str) -> None:
    with process(shared_url) as a, process(shared_url) as b:
        seed_identity(b.runtime, {})
        demo = a.tokens.issue(password_auth("demo", "demo", "demo"))[0]
        admin = a.tokens.issue(password_auth("admin", "admin", "admin"))[0]
        assert_cached(a, demo)
        assert_cached(a, admin)

        b.tokens.revoke(demo)
        with pytest.raises(Unauthorized):
            a.tokens.validate(demo)
        assert_cached(a, admin)

        admin_role = seeded_id("role", "admin")
        b.assignments.revoke(seeded_id("project", "admin"), seeded_id("user", "admin"), admin_role)
        with pytest.raises(Unauthorized):
            a.tokens.validate(admin)


def test_a_recreated_database_matches_nothing_cached(shared_url: str) -> None:
    with process(shared_url) as a, process(shared_url) as b:
        seed_identity(b.runtime, {})
        token = a.tokens.issue(password_auth("demo", "demo", "demo"))[0]
        assert_cached(a, token)
        b.runtime.store.drop_schema()  # a reset of the shared store: same seeded ids after
        b.runtime.store.create_schema()
        seed_identity(b.runtime, {})
        with pytest.raises(Unauthorized):
            a.tokens.validate(token)


# -- the cache itself ---------------------------------------------------------------------------
def data(expires_at: float = 100.0) -> dict[str, Any]:
    return {"expires_at": expires_at}


def test_the_cache_keeps_the_most_recently_used_entries_up_to_its_size() -> None:
    cache = ValidationCache(max_entries=2)
    cache.get("a", "rev", 0.0)
    cache.put("a", "rev", data())
    cache.put("b", "rev", data())
    assert cache.get("a", "rev", 0.0) is not None  # "a" is now the most recently used
    cache.put("c", "rev", data())
    assert len(cache) == 2
    assert cache.get("b", "rev", 0.0) is None
    assert cache.get("a", "rev", 0.0) is not None and cache.get("c", "rev", 0.0) is not None
    with pytest.raises(ValueError, match="at least 1"):
        ValidationCache(max_entries=0)


def test_the_cache_answers_for_one_revision_until_expiry() -> None:
    cache = ValidationCache()
    assert cache.get("a", "r1", 0.0) is None
    cache.put("a", "r1", data(expires_at=10.0))
    assert cache.get("a", "r1", 9.9) == data(expires_at=10.0)
    assert cache.get("a", "r1", 10.0) is None  # expired: gone
    cache.put("a", "r1", data())
    assert cache.get("a", "r2", 0.0) is None  # a new revision empties the cache...
    assert len(cache) == 0
    cache.put("a", "r1", data())  # ...and what was computed at the old one is not kept
    assert cache.get("a", "r2", 0.0) is None
    cache.put("a", None, data())  # no revision (no row): nothing is kept
    assert cache.get("a", None, 0.0) is None
