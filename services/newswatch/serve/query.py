"""Filters and cursors shared by the page, the Atom feed and the JSON API, parsed from query strings.

f = parse_filter({"event_type": "coup", "country": "ml", "since": "24h"}, now=now)
f.country                      # 'ML'
encode_cursor(alert.last_updated, alert.alert_id)   # opaque 'next' token for the following page
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import get_args

from newswatch.contracts import EVENT_TYPES, Severity

__all__ = [
    "SEVERITIES",
    "AlertFilter",
    "Cursor",
    "QueryError",
    "decode_cursor",
    "encode_cursor",
    "parse_filter",
]

SEVERITIES: tuple[str, ...] = get_args(Severity)
_RELATIVE = re.compile(r"^(\d{1,5})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class QueryError(ValueError):
    """A query parameter that cannot be understood; answered with HTTP 400 and this message."""


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a list shows: all given conditions hold (``None`` = any)."""

    event_type: str | None = None
    country: str | None = None
    severity: str | None = None
    since: datetime | None = None  # last_updated >= since
    until: datetime | None = None  # last_updated < until

    def query_items(self) -> list[tuple[str, str]]:
        """The filter as query-string pairs (for links that keep it: pages, the feed, the API)."""
        items: list[tuple[str, str]] = []
        for name in ("event_type", "country", "severity"):
            value = getattr(self, name)
            if value:
                items.append((name, value))
        if self.since:
            items.append(("since", _iso(self.since)))
        if self.until:
            items.append(("until", _iso(self.until)))
        return items

    @property
    def empty(self) -> bool:
        return not self.query_items()


@dataclass(frozen=True)
class Cursor:
    """Position after the last alert of a page, in the list's order (newest ``last_updated`` first)."""

    last_updated: datetime
    alert_id: str


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time(name: str, raw: str, now: datetime) -> datetime:
    """An RFC 3339 time, a date, or a span back from now (``90m``, ``24h``, ``7d``)."""
    match = _RELATIVE.match(raw)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"{name}: expected an RFC 3339 time, a date or 24h/7d, got {raw[:40]!r}") from exc
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def parse_filter(params: Mapping[str, str], *, now: datetime | None = None) -> AlertFilter:
    """The filter in ``params`` (empty values mean "any"); raises :class:`QueryError` on a bad value."""
    now = now or datetime.now(UTC)
    event_type = (params.get("event_type") or "").strip() or None
    if event_type is not None and event_type not in EVENT_TYPES:
        raise QueryError(f"event_type: one of {', '.join(EVENT_TYPES)}")
    country = (params.get("country") or "").strip().upper() or None
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        raise QueryError("country: an ISO 3166-1 alpha-2 code such as ML")
    severity = (params.get("severity") or "").strip().lower() or None
    if severity is not None and severity not in SEVERITIES:
        raise QueryError(f"severity: one of {', '.join(SEVERITIES)}")
    since_raw = (params.get("since") or "").strip()
    until_raw = (params.get("until") or "").strip()
    since = _time("since", since_raw, now) if since_raw else None
    until = _time("until", until_raw, now) if until_raw else None
    return AlertFilter(event_type, country, severity, since, until)


def encode_cursor(last_updated: datetime, alert_id: str) -> str:
    raw = f"{last_updated.astimezone(UTC).isoformat()}|{alert_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The position in an opaque ``cursor`` token; raises :class:`QueryError` on a forged or cut one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, alert_id = raw.split("|", 1)
        when = datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError) as exc:
        raise QueryError("cursor: not a cursor from this API") from exc
    if when.tzinfo is None or not alert_id:
        raise QueryError("cursor: not a cursor from this API")
    return Cursor(when.astimezone(UTC), alert_id)
