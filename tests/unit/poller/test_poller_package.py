"""Package surface, doctests, metric names against docs/metrics.md, and the bundled demo feeds."""

from __future__ import annotations

import doctest
import importlib
import re
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from newswatch.contracts import Article
from newswatch.poller.feeds import parse_feeds
from newswatch.poller.metrics import HTTP_CODES, OUTCOMES, PollerMetrics
from newswatch.poller.normalise import REJECT_REASONS, FeedContext, Rejected, detect_language, normalise_entry
from newswatch.poller.parse import parse_feed

DOCS = Path(__file__).resolve().parents[3] / "docs" / "metrics.md"


@pytest.mark.parametrize(
    "name", [f"newswatch.poller.{m}" for m in ("feeds", "metrics", "main", "normalise", "parse", "schedule")]
)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def _doc_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    return text.split("## Poller", 1)[1].split("\n## ", 1)[0]


def test_every_metric_is_documented_and_every_documented_metric_exists() -> None:
    registry = CollectorRegistry()
    PollerMetrics(["feed-a"], registry=registry)
    exposed = set()
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        exposed.add(name)
    documented = set(re.findall(r"`(newswatch_poller_[a-z_]+)`", _doc_section()))
    assert exposed == documented


def test_documented_label_values_match_code() -> None:
    section = _doc_section()
    for outcome in OUTCOMES:
        assert f"`{outcome}`" in section, outcome
    for reason in REJECT_REASONS:
        assert f"`{reason}`" in section, reason


def test_labels_are_preinitialised() -> None:
    registry = CollectorRegistry()
    PollerMetrics(["feed-a"], registry=registry)
    for outcome in OUTCOMES:
        assert registry.get_sample_value("newswatch_poller_polls_total", {"outcome": outcome}) == 0
    for code in HTTP_CODES:
        assert registry.get_sample_value("newswatch_poller_http_responses_total", {"code": code}) == 0
    assert registry.get_sample_value("newswatch_poller_feed_consecutive_failures", {"feed": "feed-a"}) == 0


# --- the bundled demo feeds ---------------------------------------------------------------------------------

DEMO = resources.files("newswatch").joinpath("demo_feeds")
EVENT_WORDS = {
    "military_withdrawal": re.compile(r"Harmattan", re.IGNORECASE),
    "coup": re.compile(r"Guinea-Bissau|Guinée-Bissau", re.IGNORECASE),
    "peacekeeping_change": re.compile(r"MONUSCO", re.IGNORECASE),
}


def _demo_articles() -> tuple[list[Article], Counter[str], dict[str, str]]:
    feeds = parse_feeds(
        DEMO.joinpath("feeds.yaml").read_text(encoding="utf-8").replace("{base}", "http://127.0.0.1:8000"),
        default_interval_seconds=900,
    )
    articles: list[Article] = []
    rejected: Counter[str] = Counter()
    formats: dict[str, str] = {}
    for feed in feeds:
        name = feed.url.rsplit("/", 1)[1]
        parsed = parse_feed(DEMO.joinpath(name).read_bytes(), url=feed.url)
        formats[name] = parsed.format
        context = FeedContext(
            feed_url=feed.url,
            fetched_at=datetime(2026, 11, 28, tzinfo=UTC),
            outlet=feed.outlet,
            feed_language=parsed.language,
            config_language=feed.language,
        )
        for entry in parsed.entries:
            result = normalise_entry(entry, context)
            if isinstance(result, Rejected):
                rejected[result.reason] += 1
            else:
                articles.append(result)
    return articles, rejected, formats


def test_demo_feeds_cover_formats_languages_and_events() -> None:
    articles, rejected, formats = _demo_articles()
    assert sorted(formats.values()) == ["atom10", "atom10", "json11", "rss20", "rss20", "rss20"]
    assert len(articles) + sum(rejected.values()) == 60
    assert rejected == Counter({"no_url": 1})  # "Flash info" shows a counted rejection
    assert len({a.id for a in articles}) == len(articles)
    languages = Counter((a.language or "")[:2] for a in articles)
    assert languages["en"] >= 25 and languages["fr"] >= 25
    for article in articles:
        assert article.published_at is not None
        assert detect_language(f"{article.title} {article.summary}") == (article.language or "")[:2], (
            article.title
        )
        assert "utm_" not in article.url and "xtor" not in article.url and "fbclid" not in article.url
    for event, pattern in EVENT_WORDS.items():
        hits = [a for a in articles if pattern.search(f"{a.title} {a.summary}")]
        assert len({a.outlet for a in hits}) >= 3, event
        assert {(a.language or "")[:2] for a in hits} == {"en", "fr"}, event
