"""Fixtures of the worker's unit tests (the doubles live in worker_fakes.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from worker_fakes import KeywordClassifier, make_article

from newswatch.contracts import Article


@pytest.fixture
def classifier() -> KeywordClassifier:
    return KeywordClassifier()


@pytest.fixture
def article_factory() -> Callable[..., Article]:
    return make_article
