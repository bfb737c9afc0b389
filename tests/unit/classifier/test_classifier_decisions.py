"""Thresholds, calibration, windows, evidence and the screen, over a keyword-driven fake scorer (no model)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from conftest import KeywordScorer
from newswatch.classifier.artefact import Calibration, Manifest
from newswatch.classifier.classifier import ArticleText, EventClassifier
from newswatch.classifier.errors import ClassifierError, InferenceError
from newswatch.contracts.models import EVENT_TYPES, Article


def test_decide_uses_each_label_threshold(manifest_factory: Callable[..., Manifest]) -> None:
    manifest = manifest_factory(
        thresholds={"military_withdrawal": 0.3, "coup": 0.8, "peacekeeping_change": 0.5}
    )
    clf = EventClassifier(
        manifest, KeywordScorer(), max_length=32, max_windows=0, max_evidence=1, screen=False
    )
    assert clf.decide(np.array([0.3, 0.79, 0.5])) == ("military_withdrawal", "peacekeeping_change")
    assert clf.decide(np.array([0.29, 0.8, 0.49])) == ("coup",)
    assert clf.thresholds["coup"] == 0.8


def test_platt_calibration_is_applied(manifest_factory: Callable[..., Manifest]) -> None:
    calibration = {e: Calibration(a=2.0, b=-1.0) for e in EVENT_TYPES}
    clf = EventClassifier(
        manifest_factory(calibration=calibration),
        KeywordScorer(),
        max_length=32,
        max_windows=0,
        max_evidence=1,
        screen=False,
    )
    probs = clf.calibrate(np.array([[0.5, 0.0, 1.0]], dtype=np.float32))
    assert probs[0] == pytest.approx([0.5, 1 / (1 + np.e), 1 / (1 + np.exp(-1.0))])


def test_classify_returns_same_order_with_copied_fields(
    classifier: EventClassifier, article: Callable[..., Article]
) -> None:
    batch = [
        article("Army withdrew from Kherson", "Soldiers left the city.", id_="w"),
        article("Markets rally", "Shares rose.", id_="n"),
        article("Military coup in Gabon", "Officers took over.", id_="c"),
    ]
    out = classifier.classify(batch)
    assert [c.article_id for c in out] == ["w", "n", "c"]
    assert out[0].labels == ("military_withdrawal",)
    assert out[1].labels == ()
    assert out[2].labels == ("coup",)
    assert out[0].url == batch[0].url and out[0].outlet == "Example" and out[0].language == "en"
    assert out[0].published_at == batch[0].published_at and out[0].classified_at is not None
    assert out[0].model_version == "test-model-1"
    assert set(out[1].evidence) == set()


def test_screened_out_article_skips_model_and_gets_prior(
    classifier: EventClassifier, scorer: KeywordScorer, article: Callable[..., Article]
) -> None:
    [result] = classifier.classify([article("Markets rally", "Shares rose on Tuesday.")])
    assert scorer.calls == []
    assert result.scores.coup == pytest.approx(0.001)
    assert result.labels == ()


def test_evidence_is_the_sentence_that_drove_the_label(
    classifier: EventClassifier, article: Callable[..., Article]
) -> None:
    text = (
        "The army held a ceremony. Last year there was a parade. "
        "France also withdrew from MINUSMA on Monday. Officials spoke."
    )
    [result] = classifier.classify([article("News from the Sahel military", text)])
    assert result.labels == ("military_withdrawal", "peacekeeping_change")
    assert result.evidence["peacekeeping_change"] == ("France also withdrew from MINUSMA on Monday.",)
    assert result.evidence["military_withdrawal"] == ("France also withdrew from MINUSMA on Monday.",)
    assert "coup" not in result.evidence


def test_evidence_keeps_at_most_max_evidence_sentences_in_text_order(
    classifier: EventClassifier, article: Callable[..., Article]
) -> None:
    text = "A coup began. Soldiers spoke. A second coup claim. A third coup rumour."
    [result] = classifier.classify([article("Military news", text)])
    assert result.evidence["coup"] == ("A coup began.", "A second coup claim.")


def test_long_text_windows_find_a_late_event(classifier: EventClassifier, scorer: KeywordScorer) -> None:
    filler = " ".join(f"Soldiers patrolled the town number {i} today." for i in range(6))
    text = ArticleText("Military report", f"{filler} At dawn the last unit withdrew from the base.")
    [scores] = classifier.score_texts([text])
    assert scores.n_windows >= 1
    assert scores.head[0] < 0.5 < scores.probs[0]


def test_window_discount_zero_means_head_only(
    manifest_factory: Callable[..., Manifest], scorer: KeywordScorer
) -> None:
    clf = EventClassifier(
        manifest_factory(window_discount=0.0),
        scorer,
        max_length=32,
        max_windows=4,
        max_evidence=1,
        screen=True,
    )
    filler = " ".join(f"Soldiers patrolled the town number {i} today." for i in range(6))
    [scores] = clf.score_texts([ArticleText("Military report", f"{filler} The last unit withdrew.")])
    assert scores.probs[0] == pytest.approx(scores.head[0])


def test_model_failure_becomes_inference_error(
    classifier: EventClassifier, scorer: KeywordScorer, article: Callable[..., Article]
) -> None:
    scorer.fail = True
    with pytest.raises(InferenceError) as caught:
        classifier.classify([article("Army withdrew", "Troops left.")])
    assert isinstance(caught.value, ClassifierError)


def test_empty_batch(classifier: EventClassifier) -> None:
    assert classifier.classify([]) == []
