"""The committed artefact, end to end: it loads offline, reproduces its recorded dev scores, gets the seed
article and the regression set right, and the ``newswatch classify`` command keeps its contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR, read_manifest
from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.errors import ArtefactError
from newswatch.classifier.loader import load_classifier
from newswatch.classifier.settings import ClassifierSettings
from newswatch.cli import main as cli_main
from newswatch.contracts.models import EVENT_TYPES, Article
from newswatch.tooling.training.data import load_labelled
from newswatch.tooling.training.evaluate import dev_decisions, evaluate

ROOT = Path(__file__).resolve().parents[3]
REGRESSION = ROOT / "tests" / "data" / "classifier" / "regression.jsonl"


@pytest.fixture(scope="module")
def clf() -> EventClassifier:
    return load_classifier(ClassifierSettings())


def test_artefact_is_small_and_complete() -> None:
    manifest = read_manifest(DEFAULT_ARTEFACT_DIR)
    size = sum(p.stat().st_size for p in DEFAULT_ARTEFACT_DIR.iterdir())
    assert size < 15 * 1024 * 1024
    assert manifest.labels == list(EVENT_TYPES)
    assert manifest.base_sha256 and manifest.training.data_sha256 and manifest.dev_scores


def test_reproduces_recorded_dev_scores(clf: EventClassifier, shared_dir: Path) -> None:
    dev = load_labelled(shared_dir / "data" / "dev" / "events-dev.jsonl")
    probs, _ = dev_decisions(clf, dev)
    flags = [tuple(int(e in clf.decide(row)) for e in EVENT_TYPES) for row in probs]
    report = evaluate(dev, flags)
    recorded = clf.manifest.dev_scores
    for lang, scores in recorded["scored"].items():
        assert report["scored"][lang]["macro_f1"] == pytest.approx(scores["macro_f1"], abs=0.02), lang
        for label, counts in scores["labels"].items():
            now = report["scored"][lang]["labels"][label]
            assert abs(now["tp"] - counts["tp"]) <= 1 and abs(now["fp"] - counts["fp"]) <= 1, (lang, label)


def test_seed_article(clf: EventClassifier, shared_dir: Path, article: Callable[..., Article]) -> None:
    text = (shared_dir / "seed" / "barkhane-leaves-mali-2022.txt").read_text(encoding="utf-8")
    title, _, body = text.partition("\n")
    [result] = clf.classify([article(title, "", body)])
    assert "military_withdrawal" in result.labels
    assert "peacekeeping_change" in result.labels
    assert "coup" not in result.labels
    assert {"FR", "ML", "NE"} <= set(result.countries)
    assert all(result.evidence[label] for label in result.labels)


def test_regression_set_keeps_its_labels(clf: EventClassifier, article: Callable[..., Article]) -> None:
    items = load_labelled(REGRESSION)
    results = clf.classify([article(it.title, it.summary, id_=it.id) for it in items])
    wrong = [
        (it.id, it.labels, r.labels)
        for it, r in zip(items, results, strict=True)
        if tuple(e for e, v in zip(EVENT_TYPES, it.labels, strict=True) if v) != r.labels
    ]
    assert wrong == []


def test_classify_command_contract(tmp_path: Path, article: Callable[..., Article]) -> None:
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    lines = [
        article(
            "Soldiers seize power in Gabon, detain President Bongo", "Officers annulled the vote.", id_="1"
        ),
        "this is not json",
        article("Stock markets rally as inflation eases", "Shares climbed.", id_="2"),
    ]
    source.write_text(
        "\n".join(x if isinstance(x, str) else x.model_dump_json() for x in lines) + "\n", encoding="utf-8"
    )
    code = cli_main(["classify", "--input", str(source), "--output", str(target)])
    assert code == 1
    schema = json.loads((ROOT / "schemas" / "classification.v1.json").read_text(encoding="utf-8"))
    out = [json.loads(x) for x in target.read_text(encoding="utf-8").splitlines()]
    for record in out:
        jsonschema.validate(record, schema)
    assert [r["article_id"] for r in out] == ["1", "2"]
    assert out[0]["labels"] == ["coup"] and out[0]["evidence"]["coup"]
    assert out[1]["labels"] == []


def test_missing_artefact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError):
        load_classifier(ClassifierSettings(artefact_dir=tmp_path))


def test_classify_accepts_the_minimal_article(tmp_path: Path) -> None:
    # A third-party producer's Article: the minimal fields, no fetched_at.
    record = {
        "id": "min-1",
        "url": "https://example.org/a/1",
        "title": "Soldiers seize power in Gabon, detain President Bongo",
        "summary": "Officers annulled the election result.",
        "published_at": "2023-08-30T06:00:00Z",
        "language": "en",
        "feed_url": "https://example.org/rss",
    }
    source = tmp_path / "in.jsonl"
    target = tmp_path / "out.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    before = datetime.now(UTC)
    code = cli_main(["classify", "--input", str(source), "--output", str(target)])
    assert code == 0
    [out] = [json.loads(x) for x in target.read_text(encoding="utf-8").splitlines()]
    assert out["article_id"] == "min-1" and out["labels"] == ["coup"]
    assert datetime.fromisoformat(out["fetched_at"]) >= before.replace(microsecond=0)
