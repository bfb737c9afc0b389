"""The feed list YAML: defaults, intervals, names, validation errors, the bundled list."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.poller.errors import FeedListError
from newswatch.poller.feeds import load_feeds, parse_feeds, parse_interval


def test_entries_get_defaults_and_derived_names() -> None:
    feeds = parse_feeds(
        """
defaults: {interval: 10m}
feeds:
  - {url: "https://a.example/rss", outlet: "Agence Horizon", language: fr}
  - {url: "https://b.example/rss", interval: 1h, allow_private: true, name: custom-b}
  - {url: "https://c.example/feed"}
""",
        default_interval_seconds=900,
    )
    assert [f.name for f in feeds] == ["agence-horizon-fr", "custom-b", "c-example"]
    assert [f.interval_seconds for f in feeds] == [600, 3600, 600]
    assert feeds[0].language == "fr" and feeds[0].outlet == "Agence Horizon"
    assert feeds[1].allow_private and not feeds[0].allow_private


def test_plain_list_and_global_default_interval() -> None:
    feeds = parse_feeds("- url: https://a.example/rss\n", default_interval_seconds=123)
    assert feeds[0].interval_seconds == 123


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(600, 600.0), ("600", 600.0), ("10m", 600.0), ("1.5h", 5400.0), ("1d", 86400.0), (2.5, 2.5)],
)
def test_parse_interval(value: object, seconds: float) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize("value", ["", "ten minutes", "-5", "0", 0, True, "5w"])
def test_parse_interval_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_interval(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [{url: 'ftp://a.example/rss'}]", "http"),
        ("feeds: [{url: 'https://a.example/rss', colour: red}]", "colour"),
        ("feeds: [{url: 'https://a.example/rss', language: 'english!'}]", "language"),
        ("feeds: [{url: 'https://a.example/rss', interval: soon}]", "interval"),
        ("feeds: [{outlet: A}]", "url"),
        ("feeds: [42]", "mapping"),
        ("feeds: {a: 1}", "feeds"),
        ("feeds: [{url: 'https://a.example/x', name: A}, {url: 'https://b.example/y', name: A}]", "name"),
        (
            "feeds: [{url: 'https://a.example/x', outlet: Same}, {url: 'https://b.example/y', outlet: Same}]",
            "twice",
        ),
        ("feeds: [\n  - bad: [yaml", "YAML"),
        ("defaults: 5\nfeeds: []", "defaults"),
    ],
)
def test_invalid_lists_raise_clear_errors(text: str, message: str) -> None:
    with pytest.raises(FeedListError, match=message):
        parse_feeds(text, default_interval_seconds=900)


def test_missing_file_is_a_feed_list_error(tmp_path: Path) -> None:
    with pytest.raises(FeedListError, match="cannot read"):
        load_feeds(tmp_path / "nope.yaml", default_interval_seconds=900)


def test_bundled_default_list_is_valid_and_covers_english_and_french() -> None:
    feeds = load_feeds(None, default_interval_seconds=900)
    assert len(feeds) >= 15
    assert {f.language for f in feeds} >= {"en", "fr"}
    outlets = {f.outlet for f in feeds}
    assert {"UN News", "RFI", "France 24", "BBC News Africa", "Al Jazeera", "DW"} <= outlets
    assert all(f.url.startswith("https://") and not f.allow_private for f in feeds)
