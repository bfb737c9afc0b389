"""Schema files and typed models must accept and reject the same records and declare the same fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import newswatch.contracts as contracts
from newswatch.contracts import (
    Alert,
    Article,
    Candidate,
    Classification,
    DeadLetter,
    RecordInvalidError,
    load_schema,
    schema_names,
    validate_record,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "schemas"
MODELS: dict[str, type[BaseModel]] = {
    "article": Article,
    "classification": Classification,
    "alert": Alert,
    "deadletter": DeadLetter,
    "candidate": Candidate,
}


def _examples(kind: str) -> list[tuple[str, Path]]:
    return [(name, path) for name in MODELS for path in sorted((EXAMPLES / name / kind).glob("*.json"))]


def _ids(cases: list[tuple[str, Path]]) -> list[str]:
    return [f"{name}/{path.stem}" for name, path in cases]


def test_every_schema_has_a_model_and_examples() -> None:
    assert set(schema_names()) == set(MODELS)
    for name in MODELS:
        assert list((EXAMPLES / name / "valid").glob("*.json")), name
        assert list((EXAMPLES / name / "invalid").glob("*.json")), name


@pytest.mark.parametrize(("name", "path"), _examples("valid"), ids=_ids(_examples("valid")))
def test_valid_examples_pass_schema_and_model(name: str, path: Path) -> None:
    record = json.loads(path.read_text())
    validate_record(name, record)
    model = MODELS[name].model_validate(record)
    # The model writes back a record the schema accepts.
    validate_record(name, model.model_dump(mode="json", exclude_none=False))


@pytest.mark.parametrize(("name", "path"), _examples("invalid"), ids=_ids(_examples("invalid")))
def test_invalid_examples_fail_schema_and_model(name: str, path: Path) -> None:
    record = json.loads(path.read_text())
    with pytest.raises(RecordInvalidError):
        validate_record(name, record)
    with pytest.raises(ValidationError):
        MODELS[name].model_validate(record)


def _fields(schema: dict[str, Any]) -> tuple[set[str], set[str]]:
    return set(schema["properties"]), set(schema.get("required", []))


@pytest.mark.parametrize("name", list(MODELS))
def test_model_declares_the_schema_fields(name: str) -> None:
    schema_props, schema_required = _fields(load_schema(name))
    model = MODELS[name]
    assert set(model.model_fields) == schema_props
    model_required = {field for field, info in model.model_fields.items() if info.is_required()}
    # A field the schema requires may be nullable, but the model must require it as well, and vice versa.
    assert model_required == schema_required


@pytest.mark.parametrize("name", list(MODELS))
def test_model_forbids_unknown_fields_like_the_schema(name: str) -> None:
    assert load_schema(name)["additionalProperties"] is False
    assert MODELS[name].model_config.get("extra") == "forbid"


def test_datetimes_are_normalised_to_utc() -> None:
    record = json.loads((EXAMPLES / "article" / "valid" / "full.json").read_text())
    record["published_at"] = "2022-08-15T15:00:00+02:00"
    article = Article.model_validate(record)
    assert article.model_dump(mode="json")["published_at"] == "2022-08-15T13:00:00Z"


def test_invalid_error_names_the_path() -> None:
    record = json.loads((EXAMPLES / "article" / "valid" / "full.json").read_text())
    record["published_at"] = "yesterday"
    with pytest.raises(RecordInvalidError) as excinfo:
        validate_record("article", record)
    assert excinfo.value.path == "published_at"


def test_exported_members() -> None:
    exported = {name for name in dir(contracts) if not name.startswith("_")} - {"models", "schemas"}
    assert exported == set(contracts.__all__)


def test_article_without_fetched_at_gets_its_read_time() -> None:
    record = json.loads((EXAMPLES / "article" / "valid" / "third-party-no-fetched-at.json").read_text())
    assert "fetched_at" not in record
    before = datetime.now(UTC)
    article = Article.model_validate(record)
    assert before <= article.fetched_at <= datetime.now(UTC)
    # An explicit value is kept as sent.
    sent = Article.model_validate({**record, "fetched_at": "2022-08-15T13:04:10Z"})
    assert sent.fetched_at == datetime(2022, 8, 15, 13, 4, 10, tzinfo=UTC)


def test_from_article_builds_a_classification_with_the_article_fields() -> None:
    article = Article.model_validate(json.loads((EXAMPLES / "article" / "valid" / "full.json").read_text()))
    now = datetime(2022, 8, 15, 14, 0, tzinfo=UTC)
    scores = contracts.EventScores(military_withdrawal=0.9, coup=0.01, peacekeeping_change=0.2)
    record = Classification.from_article(
        article,
        scores=scores,
        labels=["military_withdrawal"],
        evidence={"military_withdrawal": ["France leaves Mali."]},
        countries=["FR", "ML"],
        model_version="m1",
        classified_at=now,
    )
    validate_record("classification", record.model_dump(mode="json"))
    assert (record.article_id, record.url, record.title, record.outlet) == (
        article.id,
        article.url,
        article.title,
        article.outlet,
    )
    assert (record.published_at, record.fetched_at, record.classified_at) == (
        article.published_at,
        article.fetched_at,
        now,
    )
    assert (record.language, record.labels, record.evidence["military_withdrawal"]) == (
        article.language,
        ("military_withdrawal",),
        ("France leaves Mali.",),
    )
    told = Classification.from_article(
        article,
        scores=scores,
        labels=(),
        evidence={},
        countries=(),
        model_version="m1",
        classified_at=now,
        language="fr",
    )
    assert article.language != "fr" and told.language == "fr"  # the classifier's own language wins
