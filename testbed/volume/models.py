"""Tables of the volume service."""

from __future__ import annotations
