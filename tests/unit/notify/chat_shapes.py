"""Checks of chat payloads against their targets' documented shapes, shared by unit and integration tests.

Two independent checks per target:
- our JSON Schemas in ``tests/data/chat`` (required fields, types and limits from the targets' docs, cited
  in each schema's ``description``);
- the targets' own maintained Python models: Slack's ``slack_sdk.models.blocks`` (each block parsed,
  its limits validated, and re-serialised unchanged, so no key is unknown to it) and Microsoft's
  ``microsoft_teams.cards`` (the Adaptive Card models generated from the card schema; every element and
  action validated with the model of its ``type``).

    assert_slack_message(payload); assert_teams_message(payload); assert_adaptive_card(card)
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from microsoft_teams.cards import core as cards
from pydantic import BaseModel
from referencing import Registry, Resource
from slack_sdk.models.blocks import Block

SCHEMAS = Path(__file__).resolve().parents[2] / "data" / "chat"
#: Teams' webhook size limit (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using)
TEAMS_MAX_BYTES = 28 * 1024


@cache
def _validator(name: str) -> Draft202012Validator:
    schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.schema.json")}
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    schema = schemas[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def _validate(name: str, payload: Any) -> None:
    errors = sorted(_validator(name).iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def assert_slack_message(payload: dict[str, Any]) -> None:
    """The payload is a Slack incoming-webhook message that both our schema and slack_sdk accept."""
    _validate("slack_webhook_message.schema.json", payload)
    for block in payload["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None, f"slack_sdk does not know block {block.get('type')!r}"
        parsed.validate_json()  # raises SlackObjectFormationError past a documented limit
        assert parsed.to_dict() == block, f"slack_sdk does not round-trip {block}"


@cache
def _card_models() -> dict[str, type[BaseModel]]:
    """Microsoft's Adaptive Card model class of each element/action ``type`` value."""
    out: dict[str, type[BaseModel]] = {}
    for value in vars(cards).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and "type" in value.model_fields:
            default = value.model_fields["type"].default
            if isinstance(default, str):
                out.setdefault(default, value)
    return out


def _typed(node: Any) -> list[dict[str, Any]]:
    """Every object with a ``type`` key inside ``node`` (the card itself included)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            found.append(node)
        for value in node.values():
            found.extend(_typed(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_typed(item))
    return found


def assert_adaptive_card(card: dict[str, Any]) -> None:
    """The card matches our Adaptive Card schema and Microsoft's model of every typed object in it."""
    _validate("adaptive_card.schema.json", card)
    models = _card_models()
    for node in _typed(card):
        model = models.get(node["type"])
        assert model is not None, f"{node['type']!r} is not an Adaptive Card type"
        model.model_validate(node)


def assert_teams_message(payload: dict[str, Any]) -> None:
    """A Teams message with one Adaptive Card attachment, within Teams' webhook size limit."""
    _validate("teams_message.schema.json", payload)
    for attachment in payload["attachments"]:
        assert_adaptive_card(attachment["content"])
    assert len(json.dumps(payload).encode()) <= TEAMS_MAX_BYTES
