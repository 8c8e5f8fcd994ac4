"""The identity revision: a random value that changes with every write to identity's tables.

What a token validates to (its user, project, domains, grants, role implications, roles,
and whether it is revoked) is read from identity's tables only.  So a validation result
can be reused for as long as none of them changed, and this module is how a reader knows:

- Every INSERT, UPDATE or DELETE of an identity table, however it is issued (an ORM flush,
  a Core statement through a session or a bare connection, from any module), also sets
  ``identity_revision.revision`` to a new random value, *before* the statement and in its
  transaction.  An engine ``before_execute`` hook does it; importing :mod:`testbed.identity`
  (as every user of its models does) installs it.  The write and the new revision commit
  or roll back together, in whichever process made them.
- :func:`current_revision` reads the value: one primary-key SELECT.  The same value as
  before means nothing a validation depends on has changed since; a value never seen before
  (after a write, a re-created schema, or a write by another process sharing the database)
  matches no cached result.  A new schema starts with a random value of its own.

The one write that leaves the revision alone is issuing a token (an INSERT into
``identity_tokens``): a new token changes what no other token validates to.  Raw SQL text
bypasses the hook; identity never writes that way.

The revision row is updated first in every identity write transaction, so it is also the
first lock such a transaction takes: identity writes serialize on it and cannot deadlock
on each other's rows.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table, bindparam, event, insert, select, update
from sqlalchemy.engine import Connection, Engine

from testbed.identity.models import (
    Domain,
    IdentityRevision,
    Project,
    Role,
    RoleAssignment,
    RoleImplication,
    Token,
    User,
)
from testbed.store.db import Store

__all__ = ["bump_revision", "current_revision", "new_revision"]

_TABLE: Table = IdentityRevision.__table__  # type: ignore[assignment]
_ROW_ID = 1
_WATCHED = frozenset(
    model.__tablename__
    for model in (Domain, Project, User, Role, RoleImplication, RoleAssignment, Token)
)
_READ = select(_TABLE.c.revision).where(_TABLE.c.id == _ROW_ID)
_SET = update(_TABLE).where(_TABLE.c.id == _ROW_ID).values(revision=bindparam("new_revision"))


def new_revision() -> str:
    """A revision value never used before (32 random hex digits)."""
    return uuid.uuid4().hex


def current_revision(conn: Connection) -> str | None:
    """The revision as ``conn``'s transaction sees it; None if the row is missing (then
    nothing may be reused until the next write creates it)."""
    value: str | None = conn.execute(_READ).scalar_one_or_none()
    return value


def bump_revision(store: Store) -> None:
    """Give the revision a new value in a transaction of its own (seeding does this, so a
    freshly seeded cloud never matches anything cached before)."""
    with store.session() as s:
        _bump(s.connection())


def _bump(conn: Connection) -> None:
    value = new_revision()
    if conn.execute(_SET, {"new_revision": value}).rowcount == 0:
        conn.execute(insert(_TABLE).values(id=_ROW_ID, revision=value))


def _changes_identity(statement: Any) -> bool:
    """Whether a statement writes an identity table (other than issuing a token)."""
    if not getattr(statement, "is_dml", False):
        return False
    name = getattr(getattr(statement, "table", None), "name", None)
    if name not in _WATCHED:
        return False
    return not (name == Token.__tablename__ and statement.is_insert)


@event.listens_for(Engine, "before_execute")
def _bump_before_identity_writes(
    conn: Connection, statement: Any, _multiparams: Any, _params: Any, _options: Any
) -> None:
    if _changes_identity(statement):
        _bump(conn)


@event.listens_for(_TABLE, "after_create")
def _first_revision(target: Table, connection: Connection, **_kw: Any) -> None:
    """``create_all`` leaves the row in place with a random value of its own."""
    connection.execute(insert(target).values(id=_ROW_ID, revision=new_revision()))
