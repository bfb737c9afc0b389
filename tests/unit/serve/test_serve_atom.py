"""The Atom feed: valid for our own poller (feedparser, no bozo), one entry per alert updated in place."""

from __future__ import annotations

import feedparser
from tests.unit.serve.conftest import Served
from tests.unit.serve.support import HOSTILE, alert, put

from newswatch.poller.parse import parse_feed


def _feed(served: Served, query: str = "") -> feedparser.FeedParserDict:
    response = served.client.get(f"/alerts.atom{query}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_the_feed_parses_cleanly_and_follows_the_filter(served: Served) -> None:
    put(
        served.store,
        alert("coup-ml", minutes=2, event_type="coup", countries=["ML"]),
        alert("coup-ne", minutes=3, event_type="coup", countries=["NE"]),
        alert("mw-ml", minutes=4, countries=["ML"]),
    )
    parsed = _feed(served, "?event_type=coup&country=ML")
    assert [e.id for e in parsed.entries] == ["urn:newswatch:alert:coup-ml"]
    entry = parsed.entries[0]
    assert entry.link == "http://alerts.example/alerts/coup-ml"
    assert "Coup - Mali (ML)" in entry.title and "[FLASH]" in entry.title
    assert {t.term for t in entry.tags} >= {"coup", "severity:flash", "country:ML"}
    assert parsed.feed.title == "newswatch alerts: Coup, Mali"
    self_link = next(link for link in parsed.feed.links if link.rel == "self")
    assert self_link.href == "http://alerts.example/alerts.atom?event_type=coup&country=ML"
    assert [e.id for e in _feed(served).entries] == [
        "urn:newswatch:alert:mw-ml",
        "urn:newswatch:alert:coup-ne",
        "urn:newswatch:alert:coup-ml",
    ]


def test_an_entry_is_updated_in_place_when_the_alert_grows(served: Served) -> None:
    put(served.store, alert("al-1", 1, 0))
    before = _feed(served).entries
    put(served.store, alert("al-1", 2, 30), start=1)
    after = _feed(served).entries
    assert len(before) == len(after) == 1
    assert before[0].id == after[0].id
    assert after[0].updated_parsed > before[0].updated_parsed
    assert after[0].published == before[0].published
    assert "version 2, 2 sources" in after[0].summary


def test_hostile_and_control_characters_still_parse(served: Served) -> None:
    nasty = HOSTILE + "\x00\x07\x1b[2J\ufffe&amp;"
    put(served.store, alert("al-x", headline=nasty, outlets=[nasty]))
    (entry,) = _feed(served).entries
    assert "<script>window.__pwned=1</script>" in entry.title  # text content, not markup
    assert "\x00" not in entry.title and "\x1b" not in entry.title


def test_our_own_poller_reads_the_feed(served: Served) -> None:
    put(served.store, alert("al-1", 1, 0), alert("al-2", 1, 5, event_type="coup"))
    body = served.client.get("/alerts.atom").content
    parsed = parse_feed(body, url="http://alerts.example/alerts.atom", content_type="application/atom+xml")
    assert parsed.bozo is None and parsed.format == "atom10" and parsed.rejected == ()
    assert {entry.link for entry in parsed.entries} == {
        "http://alerts.example/alerts/al-1",
        "http://alerts.example/alerts/al-2",
    }
