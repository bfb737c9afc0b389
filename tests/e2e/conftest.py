"""Fixtures of the end-to-end tests: a Pipeline (random topics, worker subprocesses) on the real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import Pipeline


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    pipe = Pipeline(kafka_bootstrap, tmp_path)
    try:
        yield pipe
    finally:
        pipe.close()
