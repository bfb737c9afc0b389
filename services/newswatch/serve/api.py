"""The JSON API's shapes and its OpenAPI 3.1 document; records are Alert v1 exactly as on the topic.

GET /api/v1/alerts?event_type=coup&country=ML&severity=flash&since=24h&limit=50&cursor=...
    -> {"alerts": [Alert v1, ...], "next_cursor": "..." | null}
GET /api/v1/alerts/{alert_id}
    -> {"alert": Alert v1 (latest), "versions": [Alert v1, ...] (oldest first)}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from newswatch import __version__
from newswatch.contracts import EVENT_TYPES, load_schema
from newswatch.serve.query import SEVERITIES
from newswatch.serve.store import StoredAlert, StoredVersion

__all__ = ["alert_body", "list_body", "openapi_document"]


def list_body(alerts: Sequence[StoredAlert], next_cursor: str | None) -> dict[str, Any]:
    return {"alerts": [json.loads(s.raw) for s in alerts], "next_cursor": next_cursor}


def alert_body(stored: StoredAlert, versions: Sequence[StoredVersion]) -> dict[str, Any]:
    return {"alert": json.loads(stored.raw), "versions": [json.loads(v.raw) for v in versions]}


def _filter_parameters() -> list[dict[str, Any]]:
    def q(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    return [
        q("event_type", "Only this event type.", {"type": "string", "enum": list(EVENT_TYPES)}),
        q(
            "country",
            "Only alerts naming this ISO 3166-1 alpha-2 country.",
            {"type": "string", "pattern": "^[A-Za-z]{2}$"},
        ),
        q("severity", "Only this severity.", {"type": "string", "enum": list(SEVERITIES)}),
        q(
            "since",
            "Last updated at or after: an RFC 3339 time, or a span back from now (90m, 24h, 7d).",
            {"type": "string"},
        ),
        q("until", "Last updated before: an RFC 3339 time or a span back from now.", {"type": "string"}),
    ]


@cache
def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 (JSON Schema 2020-12 dialect, so Alert v1 is the schema file itself)."""
    alert_schema = {k: v for k, v in load_schema("alert").items() if k not in ("$schema", "$id")}
    error = {
        "description": "Bad query",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    limit = {"type": "integer", "minimum": 1, "maximum": 500}
    page = [
        {"name": "limit", "in": "query", "required": False, "schema": limit},
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "`next_cursor` of the previous page.",
            "schema": {"type": "string"},
        },
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "newswatch alerts",
            "version": __version__,
            "description": "Read-only view of news.alerts.v1: every version of every alert (docs/serve.md).",
        },
        "paths": {
            "/api/v1/alerts": {
                "get": {
                    "operationId": "listAlerts",
                    "summary": "Latest version of each alert, newest last_updated first.",
                    "parameters": [*_filter_parameters(), *page],
                    "responses": {
                        "200": {
                            "description": "One page of alerts.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/AlertPage"}}
                            },
                        },
                        "400": error,
                    },
                }
            },
            "/api/v1/alerts/{alert_id}": {
                "get": {
                    "operationId": "getAlert",
                    "summary": "One alert: its latest version and every version held, oldest first.",
                    "parameters": [
                        {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The alert and its history.",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/AlertHistory"}}
                            },
                        },
                        "404": {"description": "No such alert in the read model."},
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Alert": alert_schema,
                "AlertPage": {
                    "type": "object",
                    "required": ["alerts", "next_cursor"],
                    "properties": {
                        "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "AlertHistory": {
                    "type": "object",
                    "required": ["alert", "versions"],
                    "properties": {
                        "alert": {"$ref": "#/components/schemas/Alert"},
                        "versions": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
            }
        },
    }
