"""The replay bench's pure parts: a real archive as daily feeds, an event calendar, alerts scored against it.

A year of a real French archive (rssTrends, from :data:`newswatch.tooling.selection.REPLAY_FROM`, never used
for training) is replayed day by day through the real poller and worker (``bench/replay_bench.py``). What
happened that year is an event calendar written from the items themselves (``bench/replay/calendar.json``:
each event with its type, countries, the days it was reported and the items that report it). Scoring asks,
for every alert the worker opened: which calendar event is it, if any?

    days = replay_days(iter_source("rsstrends", repo), start=date(2025, 9, 1), end=date(2026, 8, 31))
    feed = render_rss("lemonde.fr", days[date(2025, 9, 1)], base_url)   # one outlet's feed of one day
    score = score_alerts(alerts, calendar, articles=126_440)

An alert belongs to the event whose items it carries (most shared items first); otherwise to an event of its
type whose countries it names and whose reporting days it falls in (``before_days`` earlier to ``after_days``
later). Alerts that belong to no event are false alerts; the second and later alerts of one event are
duplicates. An event the annotators marked ambiguous is neither missed when no alert has it nor makes its
alerts false or duplicates.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from newswatch.contracts import EventType
from newswatch.tooling.corpus import RawItem

__all__ = [
    "AlertOutcome",
    "CalendarEvent",
    "ReplayScore",
    "load_calendar",
    "render_rss",
    "replay_days",
    "score_alerts",
]

_EVENT_TYPES: frozenset[str] = frozenset({"military_withdrawal", "coup", "peacekeeping_change"})


@dataclass(frozen=True)
class CalendarEvent:
    """One real-world event of the replay year, as the archive reports it."""

    id: str
    event_type: EventType
    countries: frozenset[str]
    first_day: date
    last_day: date
    title: str
    items: frozenset[str]  # corpus item ids (``rsstrends:<sha1 of link>``) that report it
    ambiguous: bool = False  # a careful analyst could count it either way: alerts on it are not false,
    # missing it is not a miss

    def covers(self, day: date, *, before_days: int, after_days: int) -> bool:
        return (
            self.first_day - timedelta(days=before_days) <= day <= self.last_day + timedelta(days=after_days)
        )


def load_calendar(path: Path) -> list[CalendarEvent]:
    """The events of ``path`` (``{"events": [...]}``); a malformed event raises a ValueError naming it."""
    document = json.loads(path.read_text(encoding="utf-8"))
    events: list[CalendarEvent] = []
    seen: set[str] = set()
    for raw in document["events"]:
        event_id = str(raw.get("id") or "")
        try:
            event_type = raw["event_type"]
            if event_type not in _EVENT_TYPES:
                raise ValueError(f"unknown event type {event_type!r}")
            first, last = date.fromisoformat(raw["first_day"]), date.fromisoformat(raw["last_day"])
            if last < first or not event_id or event_id in seen:
                raise ValueError("needs a unique id and first_day <= last_day")
            event = CalendarEvent(
                id=event_id,
                event_type=event_type,
                countries=frozenset(str(c).upper() for c in raw.get("countries", ())),
                first_day=first,
                last_day=last,
                title=str(raw.get("title") or ""),
                items=frozenset(str(i) for i in raw.get("items", ())),
                ambiguous=bool(raw.get("ambiguous", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: event {event_id or '?'}: {exc}") from exc
        seen.add(event_id)
        events.append(event)
    return events


def replay_days(items: Iterable[RawItem], *, start: date, end: date) -> dict[date, list[RawItem]]:
    """Items of ``start``..``end`` (inclusive) by day, each link once (the first day the archive has it)."""
    days: dict[date, list[RawItem]] = defaultdict(list)
    seen: set[str] = set()
    for item in sorted(
        items, key=lambda i: (i.published or "", i.path, int(i.key) if i.key.isdigit() else 0)
    ):
        if not item.published or not item.url or item.url in seen:
            continue
        day = date.fromisoformat(item.published)
        if start <= day <= end:
            seen.add(item.url)
            days[day].append(item)
    return dict(sorted(days.items()))


def publication_times(day: date, count: int) -> list[datetime]:
    """The archive keeps only the day: spread its items evenly over 06:00-23:00 UTC, in archive order."""
    start = datetime.combine(day, time(6, 0), tzinfo=UTC)
    step = timedelta(hours=17) / max(count, 1)
    return [start + step * i for i in range(count)]


def render_rss(outlet: str, items: Sequence[RawItem], day: date, link: str) -> bytes:
    """One outlet's RSS 2.0 feed of one day's items, newest first as feeds list them."""
    times = publication_times(day, len(items))
    entries = []
    for item, when in sorted(zip(items, times, strict=True), key=lambda pair: pair[1], reverse=True):
        entries.append(
            "<item>"
            f"<title>{escape(item.title)}</title>"
            f"<link>{escape(item.url or '')}</link>"
            f'<guid isPermaLink="true">{escape(item.url or "")}</guid>'
            f"<description>{escape(item.summary)}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(outlet)}</title><link>{escape(link)}</link>"
        f"<description>{escape(outlet)} replay</description><language>fr</language>"
        + "".join(entries)
        + "</channel></rss>\n"
    ).encode("utf-8")


@dataclass(frozen=True)
class AlertOutcome:
    """One alert (its latest version) and the calendar event it belongs to, if any."""

    alert_id: str
    event_type: str
    countries: tuple[str, ...]
    day: date
    headline: str
    sources: int
    probability: float
    severity: str
    event_id: str | None
    duplicate: bool


@dataclass
class ReplayScore:
    """Events caught, alerts per event and false alerts, with the items behind each figure."""

    articles: int
    events: int  # unambiguous calendar events
    ambiguous_events: int = 0
    ambiguous_ids: frozenset[str] = frozenset()
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    outcomes: list[AlertOutcome] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return len(self.outcomes)

    @property
    def false_alerts(self) -> int:
        return sum(1 for o in self.outcomes if o.event_id is None)

    @property
    def ambiguous_alerts(self) -> int:
        return sum(1 for o in self.outcomes if o.event_id in self.ambiguous_ids)

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.outcomes if o.duplicate)

    def summary(self) -> dict[str, Any]:
        matched = self.alerts - self.false_alerts - self.ambiguous_alerts
        return {
            "articles": self.articles,
            "calendar_events": self.events,
            "ambiguous_events": self.ambiguous_events,
            "events_caught": len(self.caught),
            "events_missed": len(self.missed),
            "alerts": self.alerts,
            "alerts_per_caught_event": matched / len(self.caught) if self.caught else None,
            "duplicate_alerts": self.duplicates,
            "alerts_on_ambiguous_events": self.ambiguous_alerts,
            "false_alerts": self.false_alerts,
            "false_alert_share": self.false_alerts / self.alerts if self.alerts else 0.0,
            "false_alerts_per_1000_articles": 1000 * self.false_alerts / self.articles
            if self.articles
            else 0.0,
        }


def score_alerts(
    alerts: Iterable[Mapping[str, Any]],
    calendar: Sequence[CalendarEvent],
    *,
    articles: int,
    item_of_article: Mapping[str, str],
    day_of_item: Mapping[str, date],
    before_days: int = 2,
    after_days: int = 7,
) -> ReplayScore:
    """Score Alert v1 records (every version; the latest of each alert counts) against ``calendar``.

    ``item_of_article`` maps the pipeline's article ids to corpus item ids, ``day_of_item`` gives each
    item's day: an alert's day is the earliest day of its items.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for alert in alerts:
        known = latest.get(alert["alert_id"])
        if known is None or alert["version"] > known["version"]:
            latest[alert["alert_id"]] = alert
    by_type: dict[str, list[CalendarEvent]] = defaultdict(list)
    for event in calendar:
        by_type[event.event_type].append(event)
    placed: list[tuple[date, str, Mapping[str, Any], str | None]] = []
    for alert_id, alert in latest.items():
        items = {item_of_article[a] for a in alert.get("article_ids", ()) if a in item_of_article}
        days = [day_of_item[i] for i in items if i in day_of_item]
        day = min(days) if days else datetime.fromisoformat(str(alert["first_seen"])).date()
        placed.append((day, alert_id, alert, _event_of(alert, items, day, by_type, before_days, after_days)))
    ambiguous = frozenset(e.id for e in calendar if e.ambiguous)
    score = ReplayScore(
        articles=articles,
        events=len(calendar) - len(ambiguous),
        ambiguous_events=len(ambiguous),
        ambiguous_ids=ambiguous,
    )
    seen_events: set[str] = set()
    for day, alert_id, alert, event_id in sorted(placed, key=lambda p: (p[0], p[1])):
        duplicate = event_id is not None and event_id in seen_events and event_id not in ambiguous
        if event_id is not None:
            seen_events.add(event_id)
        score.outcomes.append(
            AlertOutcome(
                alert_id=alert_id,
                event_type=str(alert["event_type"]),
                countries=tuple(alert.get("countries", ())),
                day=day,
                headline=str(alert.get("headline") or ""),
                sources=int(alert.get("source_count", 0)),
                probability=float(alert.get("probability", 0.0)),
                severity=str(alert.get("severity", "")),
                event_id=event_id,
                duplicate=duplicate,
            )
        )
    score.caught = [e.id for e in calendar if e.id in seen_events and not e.ambiguous]
    score.missed = [e.id for e in calendar if e.id not in seen_events and not e.ambiguous]
    return score


def _event_of(
    alert: Mapping[str, Any],
    items: set[str],
    day: date,
    by_type: Mapping[str, Sequence[CalendarEvent]],
    before_days: int,
    after_days: int,
) -> str | None:
    candidates = by_type.get(str(alert["event_type"]), ())
    shared = [(len(items & e.items), e.id) for e in candidates if items & e.items]
    if shared:
        return max(shared)[1]
    countries = {str(c).upper() for c in alert.get("countries", ())}
    near = [
        e
        for e in candidates
        if countries & e.countries and e.covers(day, before_days=before_days, after_days=after_days)
    ]
    if not near:
        return None
    # The nearest in time, then the one sharing the most countries.
    near.sort(key=lambda e: (abs((e.first_day - day).days), -len(countries & e.countries), e.id))
    return near[0].id
