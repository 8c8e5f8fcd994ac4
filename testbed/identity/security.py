"""Secrets of the identity service: password digests, token ids, audit ids, entity ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

__all__ = ["audit_id", "hash_password", "new_id", "new_token", "token_digest", "verify_password"]

# Few iterations on purpose: a test-bed authenticates often and guards no real secrets.
_ITERATIONS = 1000
_SCHEME = "pbkdf2-sha256"


def new_id() -> str:
    """A Keystone-style entity id: 32 hex digits."""
    return uuid.uuid4().hex


def hash_password(password: str) -> str:
    """A salted digest of ``password`` (``scheme$iterations$salt$digest``)."""
    salt = secrets.token_hex(8)
    digest = _digest(password, salt, _ITERATIONS)
    return f"{_SCHEME}${_ITERATIONS}${salt}${digest}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches a digest made by :func:`hash_password`."""
    if not stored:
        return False
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != _SCHEME:
        return False
    return hmac.compare_digest(digest, _digest(password, salt, int(iterations)))


def _digest(password: str, salt: str, iterations: int) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()


def new_token() -> str:
    """A fresh opaque token id (URL-safe, unguessable)."""
    return secrets.token_urlsafe(48)


def token_digest(token: str) -> str:
    """What the store keeps of a token: its SHA-256 digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def audit_id() -> str:
    """A token's audit id: 16 random bytes, URL-safe base64 without padding (Keystone's)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
