"""Tokens: authenticate (``password`` and ``token`` methods), scope, validate, revoke, expire.

A token is an opaque random string; the store keeps its digest, owner, scope, methods,
audit ids and times (clock seconds).  Validation recomputes the roles each time anything
in identity has changed, so a removed grant or a disabled user, project or domain
invalidates the token at once (as Keystone's revocation events do).  In between, what a
token validated to is reused: a :class:`~testbed.identity.token_cache.ValidationCache`
keyed by the identity revision (:mod:`testbed.identity.revision`), so validating a token
again costs one primary-key SELECT until the next identity write, or the token's expiry
on the clock.  Scoping follows Keystone: an explicit project scope (by id, or by name and
domain), ``"unscoped"``, or none at all, which scopes the token to the user's default
project when the user holds a role there.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.orm import Session, aliased

from testbed.clock import Clock
from testbed.exceptions import BadRequest, CloudError, NotFound, Unauthorized
from testbed.identity.assignments import effective_roles
from testbed.identity.models import Domain, Project, Token, User
from testbed.identity.revision import current_revision
from testbed.identity.security import audit_id, new_token, token_digest, verify_password
from testbed.identity.token_cache import DEFAULT_MAX_ENTRIES, ValidationCache
from testbed.store.db import Store

__all__ = ["TokenManager", "revoke_tokens_of_user"]

SUPPORTED_METHODS = ("password", "token")
_BAD_CREDENTIALS = "Invalid username or password"


def revoke_tokens_of_user(store: Store, user_id: str) -> None:
    """Revoke every token of a user (password change, user disabled or deleted)."""
    with store.session() as s:
        s.execute(update(Token).where(Token.user_id == user_id).values(revoked=True))


def _expecting(attribute: str, target: str) -> BadRequest:
    return BadRequest(
        f"Expecting to find {attribute} in {target}. The server could not comply with the "
        "request since it is either malformed or otherwise incorrect. The client is assumed "
        "to be in error."
    )


def _object(value: Any, attribute: str, target: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _expecting(attribute, target)
    return value


class TokenManager:
    """Issues, validates and revokes tokens."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        lifetime: float,
        cache_size: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = lifetime
        self._validated = ValidationCache(cache_size)

    # -- issue ----------------------------------------------------------------------------
    def issue(self, auth: Any) -> tuple[str, dict[str, Any]]:
        """Authenticate the body of ``POST /v3/auth/tokens`` (its ``auth`` object) and
        issue a token: ``(token id, token data)``.  401 for bad credentials or scope."""
        auth = _object(auth, "auth", "request body")
        identity = _object(auth.get("identity"), "identity", "auth")
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods:
            raise _expecting("methods", "identity")
        user_ids: set[str] = set()
        original: Token | None = None
        for method in methods:
            if method not in SUPPORTED_METHODS:
                raise Unauthorized("Attempted to authenticate with an unsupported method.")
            data = _object(identity.get(method), method, "identity")
            if method == "password":
                user_ids.add(self._password_user(data))
            else:
                original = self._original_token(data)
                user_ids.add(original.user_id)
        if len(user_ids) != 1:
            raise Unauthorized("The auth methods name different users.")
        user_id = user_ids.pop()
        project_id = self._scope(auth.get("scope"), user_id)
        now = self.clock.now()
        method_names = list(dict.fromkeys(methods))
        audit_ids = [audit_id()]
        expires_at = now + self.lifetime
        if original is not None:
            method_names = list(dict.fromkeys([*method_names, *original.methods]))
            audit_ids.append(original.audit_ids[-1] if original.audit_ids else audit_ids[0])
            expires_at = original.expires_at
        token = new_token()
        with self.store.session() as s:
            s.add(
                Token(
                    digest=token_digest(token),
                    user_id=user_id,
                    project_id=project_id,
                    methods=method_names,
                    audit_ids=audit_ids,
                    issued_at=now,
                    expires_at=expires_at,
                    revoked=False,
                )
            )
        return token, self.validate(token)

    def _password_user(self, data: dict[str, Any]) -> str:
        user = _object(data.get("user"), "user", "password")
        password = user.get("password")
        if not isinstance(password, str):
            raise _expecting("password", "user")
        with self.store.session() as s:
            if "id" in user:
                found = s.get(User, str(user["id"]))
            elif "name" in user:
                domain = _domain_ref(s, user.get("domain"), "user")
                found = s.scalar(
                    select(User).where(User.domain_id == domain.id, User.name == user["name"])
                )
            else:
                raise _expecting("id or name", "user")
            if found is None or not verify_password(password, found.password_hash):
                raise Unauthorized(_BAD_CREDENTIALS)
            _check_user_usable(s, found)
            return found.id

    def _original_token(self, data: dict[str, Any]) -> Token:
        token = data.get("id")
        if not isinstance(token, str):
            raise _expecting("id", "token")
        with self.store.session() as s:
            row = self._live_token(s, token)
            s.expunge(row)
            return row

    def _scope(self, scope: Any, user_id: str) -> str | None:
        with self.store.session() as s:
            if scope == "unscoped":
                return None
            if scope is None:
                return _default_project(s, user_id)
            scope = _object(scope, "project, domain or system", "scope")
            if "project" in scope:
                project = _project_ref(s, scope["project"])
                _check_project_usable(s, project)
                if not effective_roles(s, user_id, project.id):
                    raise Unauthorized(f"User {user_id} has no access to project {project.id}")
                return project.id
            if "domain" in scope:
                domain = _domain_ref(s, scope["domain"], "scope", error=Unauthorized)
                raise Unauthorized(f"User {user_id} has no access to domain {domain.id}")
            if "system" in scope:
                raise Unauthorized(f"User {user_id} has no access to the system")
            if "OS-TRUST:trust" in scope:
                raise Unauthorized("Trusts are not supported by the test-bed.")
            raise _expecting("project, domain or system", "scope")

    # -- validate and revoke --------------------------------------------------------------
    def validate(self, token: str, *, subject: bool = False) -> dict[str, Any]:
        """The token's data: ``{methods, user, project, roles, issued_at, expires_at,
        audit_ids}`` (times in clock seconds).  An unknown, revoked or expired token, or one
        whose user, project or grants are gone, raises 401 — or 404 "Failed to validate
        token" when ``subject`` (the token being validated is not the caller's).

        The result reflects every identity write committed before the call, from any
        process: it is reused only while the identity revision is unchanged and the
        token has not expired on the clock."""
        digest = token_digest(token)
        try:
            with self.store.transaction() as connection:
                # Read before the data: what is read after it is at least as new, so
                # the data is never older than the revision it is kept under.
                revision = current_revision(connection)
                now = self.clock.now()
                data = self._validated.get(digest, revision, now)
                if data is None:
                    data = _token_data(connection, digest, now)
                    self._validated.put(digest, revision, data)
        except Unauthorized:
            if subject:
                raise NotFound("Failed to validate token") from None
            raise
        return copy.deepcopy(data)

    def revoke(self, token: str) -> None:
        """Revoke a token; 404 if it is not a valid one."""
        with self.store.session() as s:
            try:
                row = self._live_token(s, token)
            except Unauthorized:
                raise NotFound("Failed to validate token") from None
            row.revoked = True

    def purge_expired(self) -> int:
        """Forget tokens past their expiry; returns how many."""
        with self.store.session() as s:
            result = s.execute(delete(Token).where(Token.expires_at <= self.clock.now()))
            return int(getattr(result, "rowcount", 0) or 0)

    def _live_token(self, s: Session, token: str) -> Token:
        row = s.get(Token, token_digest(token))
        if row is None or row.revoked:
            raise Unauthorized("The request you have made requires authentication.")
        if row.expires_at <= self.clock.now():
            raise Unauthorized("The token has expired.")
        return row


# -- validation: one joined SELECT for the token, its user, project and their domains ------
_UserDomain = aliased(Domain, name="user_domain")
_ProjectDomain = aliased(Domain, name="project_domain")
_TOKEN_DATA = (
    select(
        Token.user_id,
        Token.project_id,
        Token.methods,
        Token.audit_ids,
        Token.issued_at,
        Token.expires_at,
        Token.revoked,
        User.id.label("found_user_id"),
        User.name.label("user_name"),
        User.enabled.label("user_enabled"),
        User.domain_id.label("user_domain_id"),
        _UserDomain.name.label("user_domain_name"),
        _UserDomain.enabled.label("user_domain_enabled"),
        Project.id.label("found_project_id"),
        Project.name.label("project_name"),
        Project.enabled.label("project_enabled"),
        Project.domain_id.label("project_domain_id"),
        _ProjectDomain.name.label("project_domain_name"),
        _ProjectDomain.enabled.label("project_domain_enabled"),
    )
    .select_from(Token)
    .outerjoin(User, User.id == Token.user_id)
    .outerjoin(_UserDomain, _UserDomain.id == User.domain_id)
    .outerjoin(Project, Project.id == Token.project_id)
    .outerjoin(_ProjectDomain, _ProjectDomain.id == Project.domain_id)
    .where(Token.digest == bindparam("digest"))
)


def _token_data(connection: Connection, digest: str, now: float) -> dict[str, Any]:
    """What :meth:`TokenManager.validate` returns, read from the store; the same checks,
    in the same order and with the same messages, as issuing a token makes."""
    row = connection.execute(_TOKEN_DATA, {"digest": digest}).one_or_none()
    if row is None or row.revoked:
        raise Unauthorized("The request you have made requires authentication.")
    if row.expires_at <= now:
        raise Unauthorized("The token has expired.")
    if row.found_user_id is None:
        raise Unauthorized("The user of this token no longer exists.")
    if not row.user_enabled:
        raise Unauthorized(f"The account is disabled for user: {row.user_id}.")
    if not row.user_domain_enabled:
        raise Unauthorized(f"Domain is disabled: {row.user_domain_id}")
    data: dict[str, Any] = {
        "methods": list(row.methods),
        "user": {
            "id": row.user_id,
            "name": row.user_name,
            "domain": {"id": row.user_domain_id, "name": row.user_domain_name},
            "password_expires_at": None,
        },
        "project": None,
        "roles": [],
        "issued_at": row.issued_at,
        "expires_at": row.expires_at,
        "audit_ids": list(row.audit_ids),
    }
    if row.project_id is None:
        return data
    if row.found_project_id is None:
        raise Unauthorized(f"Could not find project: {row.project_id}.")
    if not row.project_enabled:
        raise Unauthorized(f"Project is disabled: {row.project_id}")
    if not row.project_domain_enabled:
        raise Unauthorized(f"Domain is disabled: {row.project_domain_id}")
    roles = effective_roles(connection, row.user_id, row.project_id)
    if not roles:
        raise Unauthorized(f"User {row.user_id} has no access to project {row.project_id}")
    data["project"] = {
        "id": row.project_id,
        "name": row.project_name,
        "domain": {"id": row.project_domain_id, "name": row.project_domain_name},
    }
    data["roles"] = roles
    return data


# -- look-ups of issue ----------------------------------------------------------------------
def _domain_ref(
    s: Session, ref: Any, target: str, *, error: type[CloudError] = Unauthorized
) -> Domain:
    """A domain named by ``{"id": ...}`` or ``{"name": ...}``."""
    ref = _object(ref, "domain", target)
    if "id" in ref:
        found = s.get(Domain, str(ref["id"]))
        key = str(ref["id"])
    elif "name" in ref:
        found = s.scalar(select(Domain).where(Domain.name == ref["name"]))
        key = str(ref["name"])
    else:
        raise _expecting("id or name", "domain")
    if found is None:
        raise error(f"Could not find domain: {key}.")
    if not found.enabled:
        raise Unauthorized(f"Domain is disabled: {found.id}")
    return found


def _project_ref(s: Session, ref: Any) -> Project:
    ref = _object(ref, "project", "scope")
    if "id" in ref:
        found = s.get(Project, str(ref["id"]))
        key = str(ref["id"])
    elif "name" in ref:
        domain = _domain_ref(s, ref.get("domain"), "project")
        found = s.scalar(
            select(Project).where(Project.domain_id == domain.id, Project.name == ref["name"])
        )
        key = str(ref["name"])
    else:
        raise _expecting("id or name", "project")
    if found is None:
        raise Unauthorized(f"Could not find project: {key}.")
    return found


def _check_user_usable(s: Session, user: User) -> None:
    if not user.enabled:
        raise Unauthorized(f"The account is disabled for user: {user.id}.")
    domain = s.get(Domain, user.domain_id)
    if domain is None or not domain.enabled:
        raise Unauthorized(f"Domain is disabled: {user.domain_id}")


def _check_project_usable(s: Session, project: Project) -> None:
    if not project.enabled:
        raise Unauthorized(f"Project is disabled: {project.id}")
    domain = s.get(Domain, project.domain_id)
    if domain is None or not domain.enabled:
        raise Unauthorized(f"Domain is disabled: {project.domain_id}")


def _default_project(s: Session, user_id: str) -> str | None:
    """Keystone's default scoping: the default project if usable and the user has a role."""
    user = s.get(User, user_id)
    if user is None or not user.default_project_id:
        return None
    project = s.get(Project, user.default_project_id)
    if project is None or not project.enabled:
        return None
    domain = s.get(Domain, project.domain_id)
    if domain is None or not domain.enabled:
        return None
    return project.id if effective_roles(s, user_id, project.id) else None
