"""Tables of the image service."""

from __future__ import annotations
