"""The identity service (Keystone): serves topic ``identity`` and purges expired tokens."""

from __future__ import annotations

from collections.abc import Callable

from testbed.identity.manager import IdentityManager
from testbed.service import Runtime, Service

__all__ = ["IdentityService"]


class IdentityService(Service):
    """``keystone``: token validation and project look-ups for the other services."""

    binary = "keystone"

    def __init__(self, runtime: Runtime, *, host: str = "controller") -> None:
        super().__init__(runtime, host=host)
        self.manager = IdentityManager(runtime)

    @property
    def topic(self) -> str:
        """Topic ``identity``."""
        return "identity"

    def endpoint(self) -> object:
        """The :class:`IdentityManager`."""
        return self.manager

    def periodic_tasks(self) -> list[tuple[float, Callable[[], None]]]:
        """Forget expired tokens once per token lifetime."""
        return [(self.runtime.config.token_expiration, self._purge_expired_tokens)]

    def _purge_expired_tokens(self) -> None:
        self.manager.tokens.purge_expired()
