"""The classify CLI contract: input order, error records with line numbers, the run continues, exit status."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.errors import InferenceError
from newswatch.classifier.main import classify_stream
from newswatch.contracts.models import Article, Classification


def _line(article: Article) -> str:
    return article.model_dump_json() + "\n"


def test_lines_in_order_and_malformed_lines_reported(
    classifier: EventClassifier, article: Callable[..., Article]
) -> None:
    lines = [
        _line(article("Army withdrew from Kherson", "Troops left.", id_="a")),
        "{not json\n",
        "\n",
        json.dumps({"id": "x", "title": "missing fields"}) + "\n",
        _line(article("Coup in Gabon", "Officers took power.", id_="b")),
        _line(article("Markets rally", "Shares rose.", id_="c")),
    ]
    out, err = io.StringIO(), io.StringIO()
    written, failed = classify_stream(classifier.classify, iter(lines), out, err, batch_size=2)
    assert (written, failed) == (3, 2)
    results = [Classification.model_validate_json(x) for x in out.getvalue().splitlines()]
    assert [r.article_id for r in results] == ["a", "b", "c"]
    assert results[0].labels == ("military_withdrawal",)
    errors = [json.loads(x) for x in err.getvalue().splitlines()]
    assert [e["line"] for e in errors] == [2, 4]
    assert all(e["error"] for e in errors)


def test_failing_batch_is_retried_one_by_one(
    classifier: EventClassifier, article: Callable[..., Article]
) -> None:
    def flaky(batch: list[Article]) -> list[Classification]:
        if len(batch) > 1 or batch[0].id == "bad":
            raise InferenceError(f"failed on {batch[0].id}")
        return classifier.classify(batch)

    lines = [_line(article("Army withdrew", "x", id_=i)) for i in ("a", "bad", "c")]
    out, err = io.StringIO(), io.StringIO()
    written, failed = classify_stream(flaky, iter(lines), out, err, batch_size=8)
    assert (written, failed) == (2, 1)
    assert [json.loads(x)["article_id"] for x in out.getvalue().splitlines()] == ["a", "c"]
    assert json.loads(err.getvalue())["line"] == 2
    assert json.loads(err.getvalue())["article_id"] == "bad"
