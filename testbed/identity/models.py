"""Tables of the identity service: Keystone's resource, identity, assignment and token data.

Ids are Keystone's: 32 hex digits (``uuid4().hex``), except the default domain ``default``.
Times are clock seconds.  A token is stored by the SHA-256 digest of its id, never the id.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from testbed.store.base import Base, TimestampMixin

__all__ = [
    "Domain",
    "IdentityRevision",
    "Project",
    "Role",
    "RoleAssignment",
    "RoleImplication",
    "Token",
    "User",
]


class Domain(TimestampMixin, Base):
    """A namespace of projects and users (Keystone's ``default`` domain is seeded)."""

    __tablename__ = "identity_domains"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Project(TimestampMixin, Base):
    """A tenant: what resources belong to and what roles are granted on."""

    __tablename__ = "identity_projects"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class User(TimestampMixin, Base):
    """A person or service account; ``password_hash`` is a salted PBKDF2 digest."""

    __tablename__ = "identity_users"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("identity_domains.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Role(TimestampMixin, Base):
    """A named set of rights (``admin``, ``member``, ``reader`` are seeded)."""

    __tablename__ = "identity_roles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class RoleImplication(Base):
    """``prior`` implies ``implied`` (admin -> member -> reader, as keystone-manage
    bootstrap sets up); tokens carry the implied roles too."""

    __tablename__ = "identity_role_implications"

    prior_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class RoleAssignment(Base):
    """A grant of a role to a user on a project."""

    __tablename__ = "identity_role_assignments"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[str] = mapped_column(
        ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class Token(Base):
    """An issued token.  Roles are not stored: validation recomputes them, so a removed
    grant or a disabled user, project or domain invalidates the token at once."""

    __tablename__ = "identity_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    methods: Mapped[list[str]] = mapped_column(JSON, default=list)
    audit_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class IdentityRevision(Base):
    """One row (``id`` 1) whose ``revision`` is a new random value after every write to
    the identity tables (see :mod:`testbed.identity.revision`): a token validated at one
    revision is still valid, unchanged, while the revision stays the same."""

    __tablename__ = "identity_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[str] = mapped_column(String(32))
