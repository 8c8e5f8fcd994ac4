"""Tokens: authenticate (``password`` and ``token`` methods), scope, validate, revoke, expire.

A token is an opaque random string; the store keeps its digest, owner, scope, methods,
audit ids and times (clock seconds).  Validation recomputes the roles each time, so a
removed grant or a disabled user, project or domain invalidates the token at once (as
Keystone's revocation events do).  Scoping follows Keystone: an explicit project scope
(by id, or by name and domain), ``"unscoped"``, or none at all, which scopes the token to
the user's default project when the user holds a role there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from testbed.clock import Clock
from testbed.exceptions import BadRequest, CloudError, NotFound, Unauthorized
from testbed.identity.assignments import effective_roles
from testbed.identity.models import Domain, Project, Token, User
from testbed.identity.security import audit_id, new_token, token_digest, verify_password
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

    def __init__(self, store: Store, clock: Clock, *, lifetime: float) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = lifetime

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
        token" when ``subject`` (the token being validated is not the caller's)."""
        try:
            with self.store.session() as s:
                row = self._live_token(s, token)
                user = s.get(User, row.user_id)
                if user is None:
                    raise Unauthorized("The user of this token no longer exists.")
                _check_user_usable(s, user)
                body: dict[str, Any] = {
                    "methods": list(row.methods),
                    "user": {
                        "id": user.id,
                        "name": user.name,
                        "domain": _domain_brief(s, user.domain_id),
                        "password_expires_at": None,
                    },
                    "project": None,
                    "roles": [],
                    "issued_at": row.issued_at,
                    "expires_at": row.expires_at,
                    "audit_ids": list(row.audit_ids),
                }
                if row.project_id is not None:
                    project = s.get(Project, row.project_id)
                    if project is None:
                        raise Unauthorized(f"Could not find project: {row.project_id}.")
                    _check_project_usable(s, project)
                    roles = effective_roles(s, user.id, project.id)
                    if not roles:
                        raise Unauthorized(f"User {user.id} has no access to project {project.id}")
                    body["project"] = {
                        "id": project.id,
                        "name": project.name,
                        "domain": _domain_brief(s, project.domain_id),
                    }
                    body["roles"] = roles
                return body
        except Unauthorized:
            if subject:
                raise NotFound("Failed to validate token") from None
            raise

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


# -- look-ups shared by issue and validate --------------------------------------------------
def _domain_brief(s: Session, domain_id: str) -> dict[str, Any]:
    d = s.get(Domain, domain_id)
    return {"id": domain_id, "name": d.name if d else domain_id}


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
