"""Fixtures of the store tests on real SQL servers: PostgreSQL and MariaDB.

Servers come from ``TESTBED_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and ``TESTBED_MYSQL_URL`` (default
``mysql+pymysql://root@127.0.0.1:3306/test``).  Each test module works in a database of
its own, named with a random suffix and dropped afterwards.  A server that cannot be
reached is skipped, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from testbed.store.db import Store

SERVERS = {
    "postgresql": os.environ.get(
        "TESTBED_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
    "mariadb": os.environ.get("TESTBED_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}

NOW = 1_767_225_600.123  # clock seconds with milliseconds, as the store writes them


def require(what: str, problem: str | None) -> None:
    """Skip (fail under CI) when ``problem`` says a server is missing."""
    if problem is None:
        return
    message = f"{what} unreachable: {problem}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


def _admin(url: str) -> Any:
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


_problems: dict[str, str | None] = {}


def server_problem(kind: str) -> str | None:
    """Why the server of ``kind`` cannot be used (None: it can); asked once per run."""
    if kind not in _problems:
        try:
            engine = _admin(SERVERS[kind])
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _problems[kind] = None
        except Exception as exc:  # no driver, no server, no access
            _problems[kind] = f"{SERVERS[kind]}: {type(exc).__name__}: {exc}"
    return _problems[kind]


@contextlib.contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A new, empty database on the server of ``kind``; yields its URL, then drops it."""
    require(kind, server_problem(kind))
    admin_url = SERVERS[kind]
    name = f"tbtest_{uuid.uuid4().hex[:12]}"
    options = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" if kind == "mariadb" else ""
    admin = _admin(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}{options}"))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if kind == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


@pytest.fixture(scope="module", params=sorted(SERVERS))
def database(request: Any) -> Iterator[str]:
    """The URL of a scratch database with the schema created (``create_all``)."""
    with scratch_database(request.param) as url:
        store = Store(url, now=lambda: NOW)
        store.create_schema()
        store.close()
        yield url


@pytest.fixture
def store(database: str) -> Iterator[Store]:
    """A store on the scratch database, its clock standing at :data:`NOW`."""
    st = Store(database, now=lambda: NOW)
    yield st
    st.close()
