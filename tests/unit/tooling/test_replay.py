"""The replay bench's pure parts: daily feeds from archive items, the calendar, alerts scored against it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import feedparser
import pytest

from newswatch.tooling.corpus import RawItem
from newswatch.tooling.replay import load_calendar, publication_times, render_rss, replay_days, score_alerts


def _item(n: int, day: str, url: str | None = None, title: str = "Titre") -> RawItem:
    return RawItem(
        id=f"rsstrends:{n:016x}",
        source="rsstrends",
        path=f"data/{day[8:10]}-{day[5:7]}-{day[:4]}/news.json",
        key=str(n),
        lang="fr",
        outlet="lemonde.fr",
        published=day,
        title=f"{title} {n}",
        summary=f"Chapeau <b>{n}</b> & suite",
        url=url or f"https://www.lemonde.fr/a/{n}.html",
    )


def _calendar(tmp_path: Path, events: list[dict[str, Any]]) -> Path:
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"events": events}))
    return path


def _event(event_id: str, event_type: str, countries: list[str], first: str, last: str, items=()) -> dict:
    return {
        "id": event_id,
        "event_type": event_type,
        "countries": countries,
        "first_day": first,
        "last_day": last,
        "title": event_id,
        "items": list(items),
    }


def _alert(alert_id: str, event_type: str, countries: list[str], article_ids: list[str], version: int = 1):
    return {
        "alert_id": alert_id,
        "version": version,
        "event_type": event_type,
        "countries": countries,
        "article_ids": article_ids,
        "first_seen": "2026-12-01T00:00:00Z",
        "headline": alert_id,
        "source_count": len(article_ids),
    }


def test_replay_days_keeps_the_range_and_each_link_once() -> None:
    items = [
        _item(1, "2025-08-31"),
        _item(2, "2025-09-01"),
        _item(3, "2025-09-02", url="https://www.lemonde.fr/a/2.html"),  # the archive repeats a link
        _item(4, "2025-09-02"),
        _item(5, "2025-09-03"),
    ]
    days = replay_days(items, start=date(2025, 9, 1), end=date(2025, 9, 2))
    assert list(days) == [date(2025, 9, 1), date(2025, 9, 2)]
    assert [i.key for i in days[date(2025, 9, 1)]] == ["2"]
    assert [i.key for i in days[date(2025, 9, 2)]] == ["4"]


def test_publication_times_spread_over_the_day_in_order() -> None:
    times = publication_times(date(2025, 9, 1), 4)
    assert [t.hour for t in times] == [6, 10, 14, 18]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_rendered_feed_parses_cleanly_with_every_item() -> None:
    items = [_item(n, "2025-09-01") for n in range(3)]
    parsed = feedparser.parse(render_rss("lemonde.fr", items, date(2025, 9, 1), "https://lemonde.fr/"))
    assert not parsed.bozo
    assert sorted(e.link for e in parsed.entries) == sorted(i.url for i in items)
    assert {e.title for e in parsed.entries} == {i.title for i in items}
    assert all(e.published_parsed[:3] == (2025, 9, 1) for e in parsed.entries)
    assert "Chapeau" in parsed.entries[0].summary


def test_calendar_rejects_an_unknown_type_or_reversed_days(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="e1"):
        load_calendar(_calendar(tmp_path, [_event("e1", "riot", ["ML"], "2025-09-01", "2025-09-02")]))
    with pytest.raises(ValueError, match="e2"):
        load_calendar(_calendar(tmp_path, [_event("e2", "coup", ["ML"], "2025-09-03", "2025-09-02")]))
    events = load_calendar(_calendar(tmp_path, [_event("e3", "coup", ["ml"], "2025-09-01", "2025-09-02")]))
    assert events[0].countries == frozenset({"ML"})


def test_scoring_counts_caught_missed_duplicate_and_false_alerts(tmp_path: Path) -> None:
    calendar = load_calendar(
        _calendar(
            tmp_path,
            [
                _event("mg-coup", "coup", ["MG"], "2025-10-12", "2025-10-15", items=["i1", "i2"]),
                _event("lb-unifil", "peacekeeping_change", ["LB"], "2025-09-01", "2025-09-01"),
                _event("ml-exit", "military_withdrawal", ["ML"], "2026-01-10", "2026-01-11"),
                {
                    **_event("ua-force", "peacekeeping_change", ["UA"], "2026-01-06", "2026-01-07"),
                    "ambiguous": True,
                },
                {**_event("ge-claim", "coup", ["GE"], "2025-10-05", "2025-10-05"), "ambiguous": True},
            ],
        )
    )
    item_of_article = {f"a{n}": f"i{n}" for n in range(1, 8)}
    day_of_item = {
        "i1": date(2025, 10, 12),
        "i2": date(2025, 10, 14),
        "i3": date(2025, 9, 3),
        "i4": date(2025, 11, 20),
        "i5": date(2025, 10, 13),
        "i6": date(2026, 1, 6),
        "i7": date(2026, 1, 7),
    }
    alerts = [
        _alert("A", "coup", ["MG"], ["a1"]),
        _alert("A", "coup", ["MG"], ["a1", "a5"], version=2),  # only the latest version counts
        _alert("B", "coup", [], ["a2"]),  # shares an item: the same event, a duplicate
        _alert("C", "peacekeeping_change", ["LB"], ["a3"]),  # by country, two days after the event
        _alert("D", "peacekeeping_change", ["LB"], ["a4"]),  # by country, but months later: false
        _alert("E", "military_withdrawal", ["MG"], ["a5"]),  # the coup's item, wrong type: false
        _alert("F", "peacekeeping_change", ["UA"], ["a6"]),  # an ambiguous event: neither false nor caught
        _alert("G", "peacekeeping_change", ["UA"], ["a7"]),
    ]
    score = score_alerts(
        alerts, calendar, articles=2000, item_of_article=item_of_article, day_of_item=day_of_item
    )
    summary = score.summary()
    assert score.caught == ["mg-coup", "lb-unifil"] and score.missed == ["ml-exit"]
    assert summary["calendar_events"] == 3 and summary["ambiguous_events"] == 2
    assert summary["alerts"] == 7 and summary["false_alerts"] == 2 and summary["duplicate_alerts"] == 1
    assert summary["alerts_on_ambiguous_events"] == 2
    assert summary["alerts_per_caught_event"] == pytest.approx(3 / 2)
    assert summary["false_alerts_per_1000_articles"] == pytest.approx(1.0)
    assert summary["false_alert_share"] == pytest.approx(2 / 7)
    by_id = {o.alert_id: o for o in score.outcomes}
    assert by_id["A"].sources == 2 and not by_id["A"].duplicate and by_id["B"].duplicate
    assert by_id["C"].event_id == "lb-unifil" and by_id["D"].event_id is None
    assert by_id["F"].event_id == by_id["G"].event_id == "ua-force" and not by_id["G"].duplicate


def test_the_committed_calendar_is_what_the_annotators_labelled() -> None:
    root = Path(__file__).resolve().parents[3] / "bench" / "replay"
    calendar = load_calendar(root / "calendar.json")

    def rows(name: str) -> dict[str, dict[str, Any]]:
        lines = (root / "annotations" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        return {row["item_id"]: row for row in map(json.loads, lines)}

    selection, a, b, third = rows("selection"), rows("annotator-a"), rows("annotator-b"), rows("third")
    labels = ("military_withdrawal", "coup", "peacekeeping_change")
    assert len(calendar) >= 20 and set(a) == set(b) == set(selection)
    final = {
        item: a[item] if all(a[item][t] == b[item][t] for t in labels) else third[item] for item in selection
    }
    for event in calendar:
        assert event.items, event.id
        for item in event.items:
            assert event.first_day <= date.fromisoformat(selection[item]["date"]) <= event.last_day, event.id
            assert final[item][event.event_type] == 1, (event.id, item)
    positives = {(item, t) for item, row in final.items() for t in labels if row[t]}
    assert positives == {(item, e.event_type) for e in calendar for item in e.items}
    assert all(row["date"] >= "2025-09-01" for row in selection.values())
