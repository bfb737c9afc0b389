"""A serve app over a temporary store, with a stub read-model status and its own metrics registry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from tests.unit.serve.support import Status

from newswatch.serve.app import ROUTES, create_app
from newswatch.serve.metrics import ServeMetrics
from newswatch.serve.settings import ServeSettings
from newswatch.serve.store import AlertStore


@dataclass
class Served:
    client: TestClient
    store: AlertStore
    status: Status
    registry: CollectorRegistry


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    store = AlertStore(tmp_path / "serve.sqlite3")
    status = Status()
    registry = CollectorRegistry()
    metrics = ServeMetrics(ROUTES, registry=registry)
    app = create_app(store, status, ServeSettings(page_size=3, sender="ops@example.org"), metrics, registry)
    with TestClient(app, base_url="http://alerts.example") as client:
        yield Served(client, store, status, registry)
    store.close()
