"""Parsing: every feed-rs fixture (RSS 0.9x/1.0/2.0, Atom, JSON Feed, malformed) gives Articles or counted
rejections, never an unexpected exception; JSON Feed by hand; bozo documents keep their good entries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newswatch.contracts import Article, validate_record
from newswatch.poller.errors import FeedParseError
from newswatch.poller.normalise import REJECT_REASONS, FeedContext, Rejected, normalise_entry
from newswatch.poller.parse import parse_datetime, parse_feed

FETCHED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEED_RS = Path(__file__).resolve().parents[4] / "shared" / "data" / "feeds" / "feed-rs"
# Documents in the corpus that are not feeds at all, or are cut off before their first item.
NOT_FEEDS = {"xml_sample_1.xml", "xml_sample_2.xml", "rss_2.0_invalid_1.xml"}


def _fixtures() -> list[Path]:
    return sorted(p for p in FEED_RS.rglob("*") if p.is_file() and p.suffix in (".xml", ".json"))


def _process(path: Path) -> tuple[list[Article], Counter[str]]:
    """What the poller does with one document; a parse failure is counted like a rejection of the feed."""
    url = f"https://feeds.example.net/{path.parent.name}/{path.name}"
    try:
        parsed = parse_feed(path.read_bytes(), url=url)
    except FeedParseError:
        return [], Counter({"parse_error": 1})
    context = FeedContext(feed_url=url, fetched_at=FETCHED, base_url=url, feed_language=parsed.language)
    articles: list[Article] = []
    rejected: Counter[str] = Counter(parsed.rejected)
    for entry in parsed.entries:
        result = normalise_entry(entry, context)
        if isinstance(result, Rejected):
            rejected[result.reason] += 1
        else:
            articles.append(result)
    return articles, rejected


def test_the_corpus_is_there(shared_dir: Path) -> None:
    assert len(_fixtures()) >= 60, f"feed-rs fixtures missing under {FEED_RS}"


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_yields_valid_articles_or_counted_rejections(path: Path) -> None:
    articles, rejected = _process(path)
    if path.name in NOT_FEEDS:
        assert rejected == Counter({"parse_error": 1})
        return
    assert articles or rejected, "a feed document produced nothing and counted nothing"
    assert set(rejected) <= set(REJECT_REASONS)
    for article in articles:
        validate_record("article", article.model_dump(mode="json"))
        assert article.url.startswith(("http://", "https://"))
        assert len(article.id) == 64


def test_the_corpus_as_a_whole() -> None:
    total: Counter[str] = Counter()
    articles = 0
    for path in _fixtures():
        found, rejected = _process(path)
        articles += len(found)
        total.update(rejected)
    assert articles >= 90
    assert total["parse_error"] == len(NOT_FEEDS)


@pytest.mark.parametrize(
    ("name", "url", "title"),
    [
        (
            "atom/atom_relative.xml",
            "https://feeds.example.net/blog/2003/12/13/atom03",
            "Atom-Powered Robots Run Amok",
        ),
        ("rss1/rss_1.0_iso8859.xml", None, "Digitalministerium: Neue Glasfaserförderung mit Schnellkasse"),
        (
            "rss0/rss_0.91_encoding_1.xml",
            "http://www.dicas-l.com.br/dicas-l/20200406.php",
            "bash - Expansão de Parâmetros",
        ),
        (
            "jsonfeed/jsonfeed_spec_1.json",
            "https://jsonfeed.org/2017/05/17/announcing_json_feed",
            "Announcing JSON Feed",
        ),
    ],
)
def test_specific_fixtures(name: str, url: str | None, title: str) -> None:
    articles, _ = _process(FEED_RS / name)
    assert articles[0].title.startswith(title)
    if url:
        assert articles[0].url == url


def test_bozo_document_keeps_its_good_entries() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Broken &nbsp; feed</title>
    <item><title>First</title><link>https://example.org/1</link></item>
    <item><title>Second &amp; fine</title><link>https://example.org/2</link></item>
    <item><title>Unclosed <b>tag</title><link>https://example.org/3</link></item>
    </channel>"""
    parsed = parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml")
    assert parsed.bozo
    assert [e.link for e in parsed.entries][:2] == ["https://example.org/1", "https://example.org/2"]


@pytest.mark.parametrize(
    "body",
    [b"", b"<html><body>Not a feed</body></html>", b"\x00\x01\x02garbage", b"<?xml version='1.0'?><note/>"],
)
def test_non_feeds_raise_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, url="https://example.org/x")


def test_json_feed_fields() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Great Lakes Monitor",
        "home_page_url": "https://glm.example.org/",
        "language": "en",
        "items": [
            {
                "id": 42,
                "url": "https://glm.example.org/a",
                "title": "Mandate renewed",
                "content_html": "<p>The council <b>voted</b>.</p>",
                "summary": "Short",
                "date_published": "2026-11-20T21:30:00+01:00",
                "authors": [{"name": "Grace"}, {"url": "https://no-name"}],
                "language": "en-GB",
            },
            {
                "id": "b",
                "external_url": "https://other.example/b",
                "content_text": "Text only",
                "author": {"name": "Old"},
            },
            "not an item",
            {"id": "c", "date_modified": "2026-11-21T10:00:00Z", "url": "/relative", "title": "Modified"},
        ],
    }
    parsed = parse_feed(json.dumps(doc).encode(), url="https://glm.example.org/feed.json")
    assert parsed.format == "json11" and parsed.language == "en" and parsed.title == "Great Lakes Monitor"
    assert parsed.rejected == ("malformed",)
    first, second, third = parsed.entries
    assert (
        first.guid == "42"
        and first.content == "<p>The council <b>voted</b>.</p>"
        and first.summary == "Short"
    )
    assert first.published == datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    assert first.authors == ("Grace",) and first.language == "en-GB"
    assert (
        second.link == "https://other.example/b"
        and second.content == "Text only"
        and second.authors == ("Old",)
    )
    assert third.published == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    context = FeedContext(feed_url="https://glm.example.org/feed.json", fetched_at=FETCHED)
    article = normalise_entry(third, context)
    assert isinstance(article, Article) and article.url == "https://glm.example.org/relative"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"hello": "world"}', b'{"version": "x", "items": 5}'],
)
def test_bad_json_feeds_raise_parse_error(body: bytes) -> None:
    with pytest.raises(FeedParseError):
        parse_feed(body, url="https://example.org/feed.json", content_type="application/feed+json")


# --- entity declarations (quadratic blow-up, billion laughs) ------------------------------------------------

LONG = "A" * 1000


def _entity_feed(declarations: str, title: str, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{prolog}\n<!DOCTYPE rss [\n{declarations}\n]>\n<rss version="2.0"><channel>'
        f"<item><title>{title}</title><link>https://example.org/1</link></item></channel></rss>"
    ).encode()


def test_a_repeated_internal_entity_is_refused_before_parsing() -> None:
    body = _entity_feed(f'<!ENTITY a "{LONG}">', "&a;" * 5000)  # 16 KB that would expand to 5M characters
    assert len(body) < 17_000
    with pytest.raises(FeedParseError, match="entity") as caught:
        parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml")
    assert caught.value.outcome == "parse_error"


@pytest.mark.parametrize(
    "body",
    [
        _entity_feed(f"<!ENTITY a '{LONG}'>", "&a;" * 100),
        _entity_feed('<!ENTITY a "AAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">', "&b;" * 100),
        _entity_feed('<!ENTITY % p "AAAAAAAAAAAAAAAA"><!ENTITY a "%p;">', "&a;"),
        _entity_feed('<!ENTITY a SYSTEM "file:///etc/passwd">', "&a;"),
        # hidden behind a comment that holds what looks like an element, so feedparser's own DOCTYPE rewrite
        # does not see the declaration and passes it to expat as it is
        _entity_feed(f'<!ENTITY a "{LONG}">', "&a;" * 100, prolog="<!-- <a> -->"),
        # inside a comment of the prolog: feedparser's regular expression still picks it up
        _entity_feed(f'<!--\n<!ENTITY a "{LONG}">\n-->', "&a;" * 100),
        # a CDATA opener inside DTD comments must not hide what lies between them
        _entity_feed(f'<!-- <a --><!-- <![CDATA[ --><!ENTITY a "{LONG}"><!-- ]]> -->', "&a;" * 100),
        _entity_feed(f'<!ENTITY a "{LONG}">', "&a;" * 100)
        .decode()
        .replace('"1.0"', '"1.0" encoding="utf-16"')
        .encode("utf-16"),
        _entity_feed(f'<!entity a "{LONG}">', "&a;" * 100),
    ],
    ids=[
        "single-quoted",
        "nested",
        "parameter",
        "external",
        "behind-comment",
        "in-comment",
        "cdata-in-dtd-comments",
        "utf-16",
        "case",
    ],
)
def test_expanding_entity_declarations_are_refused(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="entity"):
        parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml")


def test_entity_declarations_hidden_by_the_http_charset_are_refused() -> None:
    # The HTTP charset wins over the document for application/*+xml: in UTF-7, "<" is "+ADw-".
    text = _entity_feed(f'<!ENTITY a "{LONG}">', "&a;" * 100).decode()
    body = text.encode("utf-7").replace(b"<", b"+ADw-")
    assert b"<!ENTITY" not in body and body.decode("utf-7") == text
    with pytest.raises(FeedParseError, match="entity"):
        parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml; charset=utf-7")


def test_character_and_short_entities_are_kept() -> None:
    body = _entity_feed(
        '<!ENTITY nbsp "&#160;">\n<!ENTITY mdash "&#x2014;">\n<!ENTITY c "(c)">', "A&nbsp;B&mdash;&c;"
    )
    parsed = parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml")
    assert parsed.entries[0].title == "A\xa0B\u2014(c)"


def test_an_escaped_entity_declaration_is_only_text() -> None:
    body = (
        '<rss version="2.0"><channel><item><title>XML tips</title><link>https://example.org/x</link>'
        f'<description>Write &lt;!ENTITY a "{LONG}"&gt; in a DTD</description></item></channel></rss>'
    ).encode()
    parsed = parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml")
    assert parsed.entries[0].title == "XML tips"  # not refused: the text is no declaration


JSON_FEED_HEAD = b'{"version": "https://jsonfeed.org/version/1.1", "items": '


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (JSON_FEED_HEAD + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (JSON_FEED_HEAD + b'[{"id": ' + b"7" * 5000 + b', "url": "https://example.org/a"}]}', "digits"),
        (JSON_FEED_HEAD + b'[{"title": "caf\xe9"}]}', "utf-8"),
    ],
    ids=["nesting", "5000-digit-number", "not-utf-8"],
)
def test_json_the_decoder_cannot_take_is_a_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, url="https://example.org/feed.json", content_type="application/feed+json")


def _rss_items(count: int) -> bytes:
    items = "".join(
        f"<item><title>T{n}</title><link>https://example.org/{n}</link></item>" for n in range(count)
    )
    return f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()


def _json_items(count: int) -> bytes:
    items = [{"id": str(n), "url": f"https://example.org/{n}", "title": f"T{n}"} for n in range(count)]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()


@pytest.mark.parametrize("document", [_rss_items, _json_items], ids=["rss", "json"])
def test_entries_beyond_the_cap_are_not_read_but_counted(document: Callable[[int], bytes]) -> None:
    parsed = parse_feed(document(5), url="https://example.org/feed", max_entries=2)
    assert [entry.title for entry in parsed.entries] == ["T0", "T1"] and parsed.dropped == 3
    assert parse_feed(document(5), url="https://example.org/feed").dropped == 0


def test_rss_ttl_is_read_in_minutes() -> None:
    body = b'<rss version="2.0"><channel><ttl>30</ttl><item><title>x</title></item></channel></rss>'
    assert parse_feed(body, url="https://example.org/rss").ttl_seconds == 1800


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-24T17:05:00Z", datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        ("2026-11-24T19:05:00+02:00", datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        ("2026-11-24T17:05:00", datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 17:05:00 +0000", datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 18:05:00 +0100", datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        ("Tue, 24 Nov 2026 17:05:00 GMT", datetime(2026, 11, 24, 17, 5, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (12345, None),
        ("9999-99-99", None),
    ],
)
def test_parse_datetime(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected
