"""Load the JSON Schema files shipped with the package and validate records against them.

validate_record("article", record)   # raises RecordInvalidError with the first failing path
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

__all__ = ["RecordInvalidError", "load_schema", "schema_names", "validate_record"]

_SCHEMA_FILES = {
    "article": "article.v1.json",
    "classification": "classification.v1.json",
    "alert": "alert.v1.json",
    "deadletter": "deadletter.v1.json",
    "candidate": "candidate.v1.json",
}


class RecordInvalidError(ValueError):
    """A record does not match its JSON Schema; ``path`` names the failing field."""

    def __init__(self, schema: str, path: str, message: str) -> None:
        super().__init__(f"{schema} invalid at {path or '<root>'}: {message}")
        self.schema = schema
        self.path = path
        self.message = message


def schema_names() -> tuple[str, ...]:
    return tuple(_SCHEMA_FILES)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema ``name``: one of :func:`schema_names`."""
    try:
        filename = _SCHEMA_FILES[name]
    except KeyError:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(_SCHEMA_FILES)}") from None
    text = resources.files("newswatch.contracts").joinpath("schemas", filename).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def validate_record(name: str, record: object) -> None:
    """Raise :class:`RecordInvalidError` unless ``record`` matches schema ``name``."""
    error = next(
        iter(sorted(_validator(name).iter_errors(record), key=lambda e: list(e.absolute_path))), None
    )
    if error is not None:
        path = "/".join(str(part) for part in error.absolute_path)
        raise RecordInvalidError(name, path, error.message)
