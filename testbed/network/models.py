"""Tables of the network service."""

from __future__ import annotations
