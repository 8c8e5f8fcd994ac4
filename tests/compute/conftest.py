from __future__ import annotations

from collections.abc import Iterator

import pytest

from .minicloud import MiniCloud


@pytest.fixture
def cloud() -> Iterator[MiniCloud]:
    c = MiniCloud.start()
    yield c
    c.stop()
