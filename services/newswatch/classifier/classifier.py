"""The event classifier: screen, score the article head and its text windows, calibrate, decide, explain.

clf = load_classifier(settings.classifier)
[verdict] = clf.classify([article])
verdict.labels, verdict.evidence, verdict.countries
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from newswatch.classifier.artefact import Manifest
from newswatch.classifier.countries import CountryMatcher
from newswatch.classifier.errors import ClassifierError, InferenceError
from newswatch.classifier.metrics import ClassifierMetrics
from newswatch.classifier.scorer import Pair, Scorer
from newswatch.classifier.screen import passes_screen
from newswatch.classifier.text import article_body, clean_text, split_sentences
from newswatch.contracts.models import EVENT_TYPES, Article, Classification, EventScores, EventType

__all__ = ["ArticleText", "EventClassifier", "TextScores"]

log = logging.getLogger(__name__)

_CHARS_PER_TOKEN = 4.0  # rough EN/FR average, to cut windows without tokenising twice


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What the model reads: a title and the cleaned body."""

    title: str
    body: str

    @classmethod
    def from_article(cls, article: Article) -> ArticleText:
        return cls(clean_text(article.title), article_body(article.title, article.summary, article.content))

    @property
    def full(self) -> str:
        return f"{self.title}\n{self.body}".strip()


@dataclass(frozen=True, slots=True)
class TextScores:
    """Calibrated probabilities for one text: the article's, and its head's (before windows)."""

    probs: npt.NDArray[np.float64]
    head: npt.NDArray[np.float64]
    screened_out: bool
    n_windows: int


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0))), dtype=np.float64)


def _windows(text: ArticleText, max_length: int, max_windows: int) -> list[Pair]:
    """Title + consecutive-sentence chunks beyond what the head input can hold (empty for short texts)."""
    budget = int(max_length * _CHARS_PER_TOKEN) - len(text.title)
    if max_windows == 0 or len(text.body) <= budget:
        return []
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in split_sentences(text.body):
        if current and size + len(sentence) > budget:
            chunks.append(" ".join(current))
            current, size = [], 0
        current.append(sentence)
        size += len(sentence) + 1
    if current:
        chunks.append(" ".join(current))
    return [(text.title, chunk) if text.title else (chunk, None) for chunk in chunks[1 : 1 + max_windows]]


class EventClassifier:
    """Loaded model + thresholds; ``classify`` is safe to call from one worker thread (a lock serialises)."""

    def __init__(
        self,
        manifest: Manifest,
        scorer: Scorer,
        *,
        max_length: int,
        max_windows: int,
        max_evidence: int,
        screen: bool,
        countries: CountryMatcher | None = None,
        metrics: ClassifierMetrics | None = None,
    ) -> None:
        self.manifest = manifest
        self.scorer = scorer
        self.max_length = max_length
        self.max_windows = max_windows
        self.max_evidence = max_evidence
        self.screen = screen
        self.countries = countries or CountryMatcher.default()
        self.metrics = metrics
        self._lock = threading.Lock()
        self._a = np.array([manifest.calibration[e].a for e in EVENT_TYPES], dtype=np.float64)
        self._b = np.array([manifest.calibration[e].b for e in EVENT_TYPES], dtype=np.float64)
        self._thresholds = np.array([manifest.thresholds[e] for e in EVENT_TYPES], dtype=np.float64)
        self._prior = np.array([manifest.screened_prior[e] for e in EVENT_TYPES], dtype=np.float64)

    @property
    def model_version(self) -> str:
        return self.manifest.model_version

    @property
    def thresholds(self) -> dict[EventType, float]:
        return dict(zip(EVENT_TYPES, (float(t) for t in self._thresholds), strict=True))

    def calibrate(self, logits: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Per-label Platt scaling of raw logits (n, 3) into probabilities."""
        return _sigmoid(logits.astype(np.float64) * self._a + self._b)

    def decide(self, probs: npt.NDArray[np.float64]) -> tuple[EventType, ...]:
        """The labels whose probability reaches their threshold."""
        return tuple(e for e, p, t in zip(EVENT_TYPES, probs, self._thresholds, strict=True) if p >= t)

    def score_texts(self, texts: Sequence[ArticleText]) -> list[TextScores]:
        """Probabilities per text: screen, then max(head, discounted windows that have a trigger word)."""
        heads: list[Pair] = []
        windows: list[Pair] = []
        owners: list[int] = []
        live: list[int] = []
        for i, text in enumerate(texts):
            if self.screen and not passes_screen(text.full):
                continue
            live.append(i)
            heads.append((text.title, text.body or None) if text.title else (text.body, None))
            for pair in _windows(text, self.max_length, self.max_windows):
                chunk = pair[1] if pair[1] is not None else pair[0]
                if self.screen and not passes_screen(chunk):
                    continue  # the title is in the head already; a chunk without a trigger adds nothing
                windows.append(pair)
                owners.append(i)
        head_probs = self.calibrate(self.scorer.logits(heads)) if heads else np.zeros((0, 3))
        window_probs = self.calibrate(self.scorer.logits(windows)) if windows else np.zeros((0, 3))
        results: list[TextScores] = [
            TextScores(self._prior.copy(), self._prior.copy(), True, 0) for _ in texts
        ]
        position = {i: k for k, i in enumerate(live)}
        best = {i: head_probs[position[i]].copy() for i in live}
        counts = dict.fromkeys(live, 0)
        discount = self.manifest.window_discount
        for owner, probs in zip(owners, window_probs, strict=True):
            best[owner] = np.maximum(best[owner], probs * discount)
            counts[owner] += 1
        for i in live:
            results[i] = TextScores(best[i], head_probs[position[i]], False, counts[i])
        return results

    def evidence(self, text: ArticleText, labels: Sequence[EventType]) -> dict[EventType, tuple[str, ...]]:
        """Per yes label, the sentence(s) (title included) with the highest probability for that label.

        Only sentences with a trigger word are candidates (all of them if none has one), at most 60.
        """
        if not labels:
            return {}
        every = ([text.title] if text.title else []) + split_sentences(text.body)
        sentences = [s for s in every if passes_screen(s)][:60] or every[:60]
        probs = self.calibrate(self.scorer.logits([(s, None) for s in sentences]))
        out: dict[EventType, tuple[str, ...]] = {}
        for label in labels:
            column = EVENT_TYPES.index(label)
            order = np.argsort(-probs[:, column], kind="stable")
            threshold = self._thresholds[column]
            chosen = [int(order[0])] + [int(k) for k in order[1:] if probs[k, column] >= threshold]
            chosen = sorted(chosen[: self.max_evidence])
            out[label] = tuple(sentences[k] for k in chosen)
        return out

    def classify(self, articles: Sequence[Article]) -> list[Classification]:
        """Classify a batch, same order; raises :class:`InferenceError` when the model fails on it.

        >>> clf.classify([article])[0].labels    # doctest: +SKIP
        ('military_withdrawal', 'peacekeeping_change')
        """
        started = time.perf_counter()
        texts = [ArticleText.from_article(a) for a in articles]
        with self._lock:
            try:
                scores = self.score_texts(texts)
                decisions = [self.decide(s.probs) for s in scores]
                evidence = [self.evidence(t, d) for t, d in zip(texts, decisions, strict=True)]
            except Exception as exc:  # torch/onnxruntime/tokenizer failures on this batch
                if self.metrics is not None:
                    self.metrics.failures.inc()
                if isinstance(exc, ClassifierError):
                    raise
                raise InferenceError(f"model failed on a batch of {len(articles)}: {exc}") from exc
        now = datetime.now(UTC)
        results: list[Classification] = []
        for article, text, score, labels, ev in zip(
            articles, texts, scores, decisions, evidence, strict=True
        ):
            probs = [min(1.0, max(0.0, float(p))) for p in score.probs]
            if any(math.isnan(p) for p in probs):
                raise InferenceError(f"model produced NaN for article {article.id!r}")
            results.append(
                Classification.from_article(
                    article,
                    scores=EventScores(
                        military_withdrawal=probs[0], coup=probs[1], peacekeeping_change=probs[2]
                    ),
                    labels=labels,
                    evidence=ev,
                    countries=self.countries.extract(text.full),
                    model_version=self.model_version,
                    classified_at=now,
                )
            )
        if self.metrics is not None:
            self._observe(scores, decisions, time.perf_counter() - started)
        return results

    def _observe(
        self, scores: Sequence[TextScores], decisions: Sequence[tuple[EventType, ...]], seconds: float
    ) -> None:
        assert self.metrics is not None
        screened = sum(1 for s in scores if s.screened_out)
        self.metrics.articles.labels(stage="screened_out").inc(screened)
        self.metrics.articles.labels(stage="scored").inc(len(scores) - screened)
        self.metrics.windows.inc(sum(s.n_windows for s in scores))
        for labels in decisions:
            for label in labels:
                self.metrics.positives.labels(event_type=label).inc()
        self.metrics.batch_duration.observe(seconds)
