"""Fixtures of the end-to-end tests: a Pipeline (random topics, worker subprocesses) on the real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import Pipeline

from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR
from newswatch.classifier.onnx_backend import ensure_onnx_model
from newswatch.classifier.settings import ClassifierSettings


@pytest.fixture(scope="session", autouse=True)
def classifier_graphs_built() -> Path:
    """Build the classifier's ONNX graphs (once per machine, about 70 s) before any worker starts, so that no
    test's timeouts include the first-use build."""
    return Path(ensure_onnx_model(ClassifierSettings(), DEFAULT_ARTEFACT_DIR))


@pytest.fixture
def pipeline(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Pipeline]:
    pipe = Pipeline(kafka_bootstrap, tmp_path)
    try:
        yield pipe
    finally:
        pipe.close()
