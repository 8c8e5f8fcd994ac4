"""Validated tokens kept for reuse while the identity revision stays the same.

:class:`ValidationCache` maps token digests to what validating them gave, all computed at
one identity revision (:mod:`testbed.identity.revision`).  Asked with another revision it
forgets everything and starts over: a write anywhere in identity changes the revision, so
no entry can outlive a revoke, a disable, a removed grant or a re-created database.  An
entry also ends when its token expires on the clock.  The least recently used entries go
first once ``max_entries`` is reached.  Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

__all__ = ["DEFAULT_MAX_ENTRIES", "ValidationCache"]

DEFAULT_MAX_ENTRIES = 10_000


class ValidationCache:
    """Token data (as :meth:`TokenManager.validate` returns it) by token digest, for one
    revision at a time.  Callers must not change the dicts they put or get."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, digest: str, revision: str | None, now: float) -> dict[str, Any] | None:
        """The data kept for ``digest`` if it was validated at ``revision`` and has not
        expired by ``now`` (clock seconds); else None.  A new revision empties the cache."""
        if revision is None:
            return None
        with self._lock:
            if revision != self._revision:
                self._entries.clear()
                self._revision = revision
                return None
            data = self._entries.get(digest)
            if data is None:
                return None
            if data["expires_at"] <= now:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return data

    def put(self, digest: str, revision: str | None, data: dict[str, Any]) -> None:
        """Keep ``data``, computed at ``revision`` (ignored unless that is the revision
        the cache holds: a validation that raced a write is simply not kept)."""
        if revision is None:
            return
        with self._lock:
            if revision != self._revision:
                return
            self._entries[digest] = data
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
