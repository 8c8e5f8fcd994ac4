"""Tables of the identity service."""

from __future__ import annotations
