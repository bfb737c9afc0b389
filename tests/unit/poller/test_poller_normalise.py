"""Normalisation: canonical URLs, stable ids, HTML stripping, dates, language, entry -> Article."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newswatch.contracts import Article, validate_record
from newswatch.poller.normalise import (
    FeedContext,
    Rejected,
    article_id,
    canonical_url,
    detect_language,
    normalise_datetime,
    normalise_entry,
    normalise_language,
    strip_html,
)
from newswatch.poller.parse import RawEntry

FETCHED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CTX = FeedContext(feed_url="https://news.example.org/rss", fetched_at=FETCHED, outlet="Example News")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.ORG/a", "https://example.org/a"),
        ("HTTPS://EXAMPLE.org:443/a/b?x=1#frag", "https://example.org/a/b?x=1"),
        ("http://example.org:80", "http://example.org/"),
        ("http://example.org:8080/a", "http://example.org:8080/a"),
        ("https://example.org/a?utm_source=rss&utm_medium=feed&id=7", "https://example.org/a?id=7"),
        ("https://example.org/a?fbclid=abc&gclid=def&msclkid=x", "https://example.org/a"),
        ("https://example.org/a?xtor=RSS-3208&at_medium=RSS&page=2", "https://example.org/a?page=2"),
        ("https://example.org/a?b=2&a=1", "https://example.org/a?b=2&a=1"),
        ("https://example.org/a?q=", "https://example.org/a?q="),
        ("  https://example.org/spaced  ", "https://example.org/spaced"),
        ("https://example.org./a", "https://example.org/a"),
        ("https://[2001:DB8::1]/a", "https://[2001:db8::1]/a"),
        ("ftp://example.org/a", None),
        ("mailto:someone@example.org", None),
        ("javascript:alert(1)", None),
        ("not a url", None),
        ("https://example.org:99999/a", None),
    ],
)
def test_canonical_url(raw: str, expected: str | None) -> None:
    assert canonical_url(raw) == expected


def test_canonical_url_resolves_relative_links() -> None:
    assert (
        canonical_url("/news/1?utm_campaign=x", "https://Example.org/feed.xml")
        == "https://example.org/news/1"
    )
    assert canonical_url("2", "https://example.org/news/1") == "https://example.org/news/2"


def test_id_is_stable_and_ignores_tracking_noise() -> None:
    first = article_id(None, "https://example.org/a?utm_source=rss#top", "https://f/1")
    second = article_id(None, "HTTPS://EXAMPLE.ORG/a", "https://f/2")
    assert first == second
    assert first is not None and len(first) == 64 and int(first, 16) >= 0


def test_id_known_values_never_change() -> None:
    # Changing the id scheme would republish every item already seen: these values are frozen on purpose.
    assert article_id(None, "https://example.org/a", "f") == (
        "b5b10dd0429e69ac7cfaf0a20b6901c1265c50b55d1751bcb684ed96ef7b300a"
    )
    assert article_id("tag:x,2026:1", None, "https://feed/1") == (
        "b8862a73a443126f678463ecc89316b3d01bbf547241876dbb2b0dc12c76aa25"
    )


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_id_scheme() -> None:
    assert article_id(None, "https://example.org/a", "f") == _sha("https://example.org/a")
    assert article_id("https://example.org/a?utm_source=x", "https://other/b", "f") == _sha(
        "https://example.org/a"
    )
    assert article_id("tag:example.org,2026:1", "https://example.org/a", "https://feed/1") == _sha(
        "guid:https://feed/1\ntag:example.org,2026:1"
    )


def test_non_url_guid_is_namespaced_by_feed() -> None:
    one = article_id("1234", "https://example.org/a", "https://feed-one.example/rss")
    two = article_id("1234", "https://example.org/a", "https://feed-two.example/rss")
    assert one != two
    assert one == article_id("1234", "https://example.org/changed-link", "https://feed-one.example/rss")


def test_id_needs_guid_or_url() -> None:
    assert article_id(None, None, "f") is None
    assert article_id("  ", "ftp://x/y", "f") is None


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain text", "plain text"),
        ("  lots \n of\t space  ", "lots of space"),
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("<p>One</p><p>Two</p>", "One Two"),
        ("line<br>break<br/>again", "line break again"),
        ("Tom &amp; Jerry &lt;3 &eacute;t&eacute; &#8217; &#x2014;", "Tom & Jerry <3 été ’ —"),
        ("a&nbsp;b", "a b"),
        ("<script>alert('x')</script>Visible<style>p{}</style>", "Visible"),
        ("<!-- comment -->kept", "kept"),
        ('<a href="https://x">link text</a> after', "link text after"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("", ""),
        (None, ""),
    ],
)
def test_strip_html(html: str | None, text: str) -> None:
    assert strip_html(html) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (datetime(2026, 11, 24, 17, 5, tzinfo=UTC), datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        (
            datetime(2026, 11, 24, 19, 15, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 11, 24, 18, 15, tzinfo=UTC),
        ),
        (datetime(2026, 11, 24, 17, 5), datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        (datetime(1969, 12, 31, tzinfo=UTC), None),
        (FETCHED + timedelta(hours=23), FETCHED + timedelta(hours=23)),
        (FETCHED + timedelta(days=2), None),
    ],
)
def test_normalise_datetime(value: datetime | None, expected: datetime | None) -> None:
    result = normalise_datetime(value, FETCHED)
    assert result == expected
    if result is not None:
        assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-us", "en-US"),
        ("fr_FR", "fr-FR"),
        ("fr-SN", "fr-SN"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("english", None),
        ("", None),
        (None, None),
        ("e", None),
        ("en--us", None),
    ],
)
def test_normalise_language(tag: str | None, expected: str | None) -> None:
    assert normalise_language(tag) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The last soldiers of the task force have left Mali, the ministry said on Tuesday.", "en"),
        ("Les derniers soldats de la force ont quitté le Mali, selon le ministère des Armées.", "fr"),
        ("Mali", None),
        ("", None),
        ("Der Bundestag hat heute beschlossen", None),
    ],
)
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


def _entry(**overrides: object) -> RawEntry:
    values: dict[str, object] = {
        "guid": None,
        "link": "https://news.example.org/2026/11/24/story?utm_source=rss",
        "title": "<b>Troops</b> leave &amp; go",
        "summary": "<p>The last soldiers left on Tuesday, the ministry said.</p>",
        "content": None,
        "published": datetime(2026, 11, 24, 17, 5, tzinfo=UTC),
        "authors": ("Aminata Traoré", "Aminata Traoré", " "),
        "language": None,
    }
    values.update(overrides)
    return RawEntry(**values)  # type: ignore[arg-type]


def test_entry_becomes_a_valid_article() -> None:
    article = normalise_entry(_entry(), CTX)
    assert isinstance(article, Article)
    assert article.url == "https://news.example.org/2026/11/24/story"
    assert article.title == "Troops leave & go"
    assert article.summary == "The last soldiers left on Tuesday, the ministry said."
    assert article.authors == ("Aminata Traoré",)
    assert article.language == "en"  # detected
    assert article.outlet == "Example News"
    assert article.feed_url == CTX.feed_url
    assert article.fetched_at == FETCHED
    validate_record("article", article.model_dump(mode="json"))


def test_language_precedence_entry_then_config_then_feed_then_detected() -> None:
    ctx = FeedContext(
        feed_url="https://f/rss", fetched_at=FETCHED, config_language="fr", feed_language="en-gb"
    )
    assert _lang(normalise_entry(_entry(language="pt-BR"), ctx)) == "pt-BR"
    assert _lang(normalise_entry(_entry(), ctx)) == "fr"
    ctx2 = FeedContext(feed_url="https://f/rss", fetched_at=FETCHED, feed_language="en-gb")
    assert _lang(normalise_entry(_entry(), ctx2)) == "en-GB"


def _lang(result: Article | Rejected) -> str | None:
    assert isinstance(result, Article)
    return result.language


def test_url_guid_serves_as_link() -> None:
    article = normalise_entry(_entry(link=None, guid="https://news.example.org/g/1"), CTX)
    assert isinstance(article, Article)
    assert article.url == "https://news.example.org/g/1"


def test_summary_falls_back_to_content_and_content_is_kept() -> None:
    article = normalise_entry(_entry(summary="", content="<p>" + "word " * 400 + "</p>"), CTX)
    assert isinstance(article, Article)
    assert article.summary.endswith("…") and len(article.summary) <= 1000
    assert article.content is not None and article.content.startswith("word word")


def test_overlong_fields_are_truncated_not_rejected() -> None:
    article = normalise_entry(_entry(title="x" * 5000, summary="y " * 20000), CTX)
    assert isinstance(article, Article)
    assert len(article.title) <= 2000 and len(article.summary) <= 20000


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"link": None}, "no_url"),
        ({"link": None, "guid": "urn:uuid:1234"}, "no_url"),
        ({"link": "mailto:desk@example.org"}, "bad_url"),
        ({"title": "  ", "summary": "<p></p>"}, "empty"),
    ],
)
def test_rejections_have_reasons(overrides: dict[str, object], reason: str) -> None:
    result = normalise_entry(_entry(**overrides), CTX)
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_relative_link_resolves_against_the_feed_document() -> None:
    ctx = FeedContext(
        feed_url="https://cfg.example/rss", fetched_at=FETCHED, base_url="https://cdn.example/x/feed"
    )
    article = normalise_entry(_entry(link="../story/9"), ctx)
    assert isinstance(article, Article)
    assert article.url == "https://cdn.example/story/9"


def test_non_url_guid_id_follows_the_feed_name_not_its_url() -> None:
    # The same configured feed, moved to another address (or the demo's random port), keeps its ids.
    entry = _entry(guid="sahelwire-2026-11-24-0412")
    before = FeedContext(
        feed_url="http://127.0.0.1:38913/sahel-wire.xml", fetched_at=FETCHED, namespace="sahel-wire"
    )
    after = FeedContext(
        feed_url="http://127.0.0.1:38759/sahel-wire.xml", fetched_at=FETCHED, namespace="sahel-wire"
    )
    other = FeedContext(
        feed_url="http://127.0.0.1:38759/sahel-wire.xml", fetched_at=FETCHED, namespace="other"
    )
    first, second, third = (normalise_entry(entry, ctx) for ctx in (before, after, other))
    assert isinstance(first, Article) and isinstance(second, Article) and isinstance(third, Article)
    assert first.id == second.id != third.id


def test_a_record_over_the_size_cap_is_rejected_as_too_large() -> None:
    # 300k control characters: each becomes a 6-byte \u escape in JSON, 1.2 MB once encoded.
    huge = RawEntry(None, "https://news.example.org/huge", "Huge", "", "\x01" * 300_000, None)
    result = normalise_entry(huge, CTX)
    assert isinstance(result, Rejected) and result.reason == "too_large"
    assert "1000000-byte cap" in result.detail
    fine = RawEntry(None, "https://news.example.org/fine", "Fine", "", "é" * 150_000, None)  # 300 KB
    assert isinstance(normalise_entry(fine, CTX), Article)
    small_cap = normalise_entry(fine, CTX, max_record_bytes=100_000)
    assert isinstance(small_cap, Rejected) and small_cap.reason == "too_large"
