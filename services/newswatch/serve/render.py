"""Server-rendered HTML: the alert list and one alert's history (Jinja2, autoescaped, no JavaScript).

Every string from an alert comes from the open web: Jinja2 escapes it, links are only ever ``http(s)``
(anything else is shown as text), and they carry ``rel="noopener noreferrer"``.

    html = render_list(alerts, flt, next_cursor=None, base="/")
    html = render_alert(stored, versions)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

import jinja2
import pycountry

from newswatch.contracts import EVENT_TYPES, Alert
from newswatch.serve.query import SEVERITIES, AlertFilter
from newswatch.serve.store import StoredAlert, StoredVersion

__all__ = [
    "CountryView",
    "alert_path",
    "country_name",
    "flag",
    "render_alert",
    "render_error",
    "render_list",
    "safe_url",
]

EVENT_LABELS = {
    "military_withdrawal": "Military withdrawal",
    "coup": "Coup",
    "peacekeeping_change": "Peacekeeping change",
}
SINCE_CHOICES = (("", "any time"), ("1h", "last hour"), ("24h", "last 24 hours"), ("7d", "last 7 days"),
                 ("30d", "last 30 days"))  # fmt: skip


@dataclass(frozen=True)
class CountryView:
    code: str
    name: str
    flag: str


@functools.cache
def country_name(code: str) -> str:
    """``"ML"`` -> ``"Mali"``; the code itself when ISO 3166-1 has no such country (e.g. ``XK``)."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def flag(code: str) -> str:
    """The flag emoji of an ISO 3166-1 alpha-2 code (two regional indicator symbols)."""
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL, else None (never a ``javascript:`` or ``data:`` link)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def alert_path(alert_id: str, suffix: str = "") -> str:
    return f"/alerts/{quote(alert_id, safe='')}{suffix}"


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _minutes(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value < 90:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} days"


def _countries(alert: Alert) -> list[CountryView]:
    return [CountryView(c, country_name(c), flag(c)) for c in alert.countries]


def _query(flt: AlertFilter, **extra: str) -> str:
    items = flt.query_items() + [(k, v) for k, v in extra.items() if v]
    return ("?" + urlencode(items)) if items else ""


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("newswatch.serve", "templates"),
        autoescape=True,
        auto_reload=False,  # templates are package data: no stat() per render
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, iso=_iso, minutes=_minutes, safe_url=safe_url)
    env.globals.update(
        alert_path=alert_path,
        countries=_countries,
        event_label=lambda t: EVENT_LABELS.get(t, t),
        EVENT_TYPES=EVENT_TYPES,
        SEVERITIES=SEVERITIES,
        SINCE_CHOICES=SINCE_CHOICES,
    )
    return env


def render_list(
    alerts: Sequence[StoredAlert],
    flt: AlertFilter,
    *,
    next_cursor: str | None,
    since_raw: str = "",
    ready: bool = True,
) -> str:
    """The front page: filter form, alerts newest first, a link to the next page."""
    return (
        _env()
        .get_template("list.html")
        .render(
            alerts=alerts,
            flt=flt,
            since_raw=since_raw,
            ready=ready,
            next_href=("/" + _query(flt, cursor=next_cursor)) if next_cursor else None,
            atom_href="/alerts.atom" + _query(flt),
            api_href="/api/v1/alerts" + _query(flt),
            now=datetime.now(UTC),
        )
    )


def _new_sources(previous: Alert | None, current: Alert) -> list[tuple[str, str | None, str | None]]:
    """(sentence, outlet, url) of the evidence a version added over the one before it."""
    seen = set() if previous is None else {(e.article_id, e.sentence) for e in previous.evidence}
    return [(e.sentence, e.outlet, e.url) for e in current.evidence if (e.article_id, e.sentence) not in seen]


def render_alert(stored: StoredAlert, versions: Sequence[StoredVersion]) -> str:
    """One alert: its latest state and how it grew, version by version (newest first)."""
    history = []
    previous: Alert | None = None
    for version in versions:
        new_links = [u for u in version.alert.links if previous is None or u not in previous.links]
        history.append(
            {
                "alert": version.alert,
                "new_sources": _new_sources(previous, version.alert),
                "new_links": new_links,
                "new_outlets": [
                    o for o in version.alert.outlets if previous is None or o not in previous.outlets
                ],
            }
        )
        previous = version.alert
    history.reverse()
    return (
        _env()
        .get_template("alert.html")
        .render(stored=stored, alert=stored.alert, history=history, now=datetime.now(UTC))
    )


def render_error(status: int, message: str) -> str:
    return _env().get_template("error.html").render(status=status, message=message)
