"""Fixtures of the poller integration tests: a local feed server, poller settings on the session broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from poller_support import FeedServer, poller_settings

from newswatch.settings import Settings


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def poll_settings(unique_topics: Any, tmp_path: Path) -> Settings:
    """A poller publishing to this test's own articles topic on the session broker."""
    return poller_settings(unique_topics.settings, tmp_path / "state")
