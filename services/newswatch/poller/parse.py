"""Turn a feed body into raw entries: RSS 0.9x/1.0/2.0 and Atom with feedparser, JSON Feed 1.0/1.1 by hand.

Malformed XML (feedparser's ``bozo``) still yields whatever entries feedparser recovered; only a body with no
entries and no recognisable feed raises :class:`FeedParseError`. Entries are not yet trusted: ``normalise.py``
cleans and validates them.

Entity declarations are checked before feedparser sees the body: feedparser re-inserts "safe" internal
entities of any length and neither its loose parser nor expat (below 8 MiB) bounds their expansion, so a 16 KB
document repeating one 1,000-character entity becomes a 5M-character title. Only declarations that cannot
amplify are accepted (one character reference, or a literal of at most 8 characters); any other is a
:class:`FeedParseError`.

    feed = parse_feed(body, url="https://example.org/rss", content_type="application/rss+xml")
    for entry in feed.entries: ...
"""

from __future__ import annotations

import calendar
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from newswatch.poller.errors import FeedParseError

__all__ = ["ParsedFeed", "RawEntry", "parse_datetime", "parse_feed"]

# feedparser flags these, but they do not make a document unusable.
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as the document gives it: text may still hold HTML, ``published`` is aware UTC or None."""

    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str | None
    published: datetime | None
    authors: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: its entries, entry-level rejections (reasons), and feed-level metadata."""

    format: str
    entries: tuple[RawEntry, ...]
    rejected: tuple[str, ...] = ()
    title: str | None = None
    link: str | None = None
    language: str | None = None
    ttl_seconds: float | None = None
    bozo: str | None = None
    dropped: int = 0
    """Entries beyond ``max_entries`` (the last ones in document order), not read."""


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from RFC 3339, RFC 822 or a UTC ``time.struct_time``; None when unparsable.

    Naive times are taken as UTC.

    >>> parse_datetime("2024-05-01T10:00:00+02:00").isoformat()
    '2024-05-01T08:00:00+00:00'
    """
    parsed: datetime | None = None
    try:
        if isinstance(value, time.struct_time):
            parsed = datetime.fromtimestamp(calendar.timegm(value), UTC)
        elif isinstance(value, str) and value.strip():
            text = value.strip()
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, OverflowError, OSError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _opt_text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def parse_feed(
    body: bytes, *, url: str, content_type: str | None = None, max_entries: int | None = None
) -> ParsedFeed:
    """Parse ``body`` fetched from ``url``; relative links resolve against ``url`` (or the document's base).

    At most ``max_entries`` entries are read, the first in document order (feeds list the newest first); the
    others are counted in ``dropped``. CPU-bound (feedparser: ~1.5 ms an entry): callers on an event loop
    run it in a thread.

    >>> parse_feed(b'<rss version="2.0"><channel><item><title>Hi</title></item></channel></rss>',
    ...            url="https://example.org/rss").entries[0].title
    'Hi'
    """
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url, max_entries)
    return _parse_xml_feed(body, url, content_type, max_entries)


# --- XML (feedparser) ---------------------------------------------------------------------------------------


def _xml_entry(entry: Any) -> RawEntry:
    contents = entry.get("content") or []
    content = "\n".join(_text(part.get("value")) for part in contents if isinstance(part, dict)).strip()
    summary = _text(entry.get("summary"))
    authors = tuple(
        name
        for name in (_opt_text(a.get("name")) for a in entry.get("authors") or [] if isinstance(a, dict))
        if name
    )
    if not authors and _opt_text(entry.get("author")):
        authors = (str(entry.get("author")).strip(),)
    language = None
    for detail in ("title_detail", "summary_detail"):
        language = language or _opt_text((entry.get(detail) or {}).get("language"))
    if not language and contents and isinstance(contents[0], dict):
        language = _opt_text(contents[0].get("language"))
    published = parse_datetime(entry.get("published_parsed")) or parse_datetime(entry.get("updated_parsed"))
    link = _opt_text(entry.get("link"))
    guid = _opt_text(entry.get("id"))
    return RawEntry(
        guid=guid,
        link=link,
        title=_text(entry.get("title")),
        summary=summary,
        content=content if content and content != summary else None,
        published=published,
        authors=authors,
        language=language,
    )


def _ttl_seconds(value: object) -> float | None:
    text = _opt_text(value)
    if text and text.isdigit() and int(text) > 0:
        return float(int(text) * 60)
    return None


_MAX_ENTITY_LITERAL = 8
_ENTITY_VALUE = rb"(?:&\#[0-9]{1,7};|&\#x[0-9A-Fa-f]{1,6};|[^&%%<\"']{0,%d})" % _MAX_ENTITY_LITERAL
_HARMLESS_ENTITY = re.compile(
    rb"<!ENTITY\s+[^\s%\"'<>]+\s+(?:\"" + _ENTITY_VALUE + rb"\"|'" + _ENTITY_VALUE + rb"')\s*>", re.IGNORECASE
)
"""A general entity whose value is one character reference or a short literal: it cannot amplify."""
_ENTITY_OPEN = re.compile(rb"<!ENTITY", re.IGNORECASE)


def _expanding_entity(data: bytes) -> str | None:
    """The start of the first entity declaration in ``data`` (UTF-8) that could expand the document, or None.

    Every ``<!ENTITY`` counts, in any case and anywhere: feedparser picks declarations out of the text before
    the first element with a regular expression (comments included), and expat reads a DOCTYPE that
    feedparser's rewrite missed; telling a DTD from a CDATA section that quotes one would take a real XML
    tokenizer, and a feed quoting a long raw declaration is rare enough to be refused with it.
    """
    position = 0
    while (found := _ENTITY_OPEN.search(data, position)) is not None:
        declaration = _HARMLESS_ENTITY.match(data, found.start())
        if declaration is None:
            return data[found.start() : found.start() + 60].decode("utf-8", "replace")
        position = declaration.end()
    return None


def _refuse_expanding_entities(body: bytes, url: str, headers: dict[str, str]) -> None:
    """Raise :class:`FeedParseError` if ``body``, decoded as feedparser will decode it (HTTP charset, BOM, XML
    declaration: UTF-16 and UTF-7 hide ``<!ENTITY`` from a byte search), declares an expanding entity."""
    data: bytes = convert_to_utf8(dict(headers), body, {})
    declaration = _expanding_entity(data)
    if declaration is not None:
        allowed = f"character references and literals of at most {_MAX_ENTITY_LITERAL} characters"
        raise FeedParseError(
            url,
            f"entity declaration refused before parsing (it could expand the document): {declaration!r}; "
            f"only {allowed} are accepted",
        )


def _parse_xml_feed(body: bytes, url: str, content_type: str | None, max_entries: int | None) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    _refuse_expanding_entities(body, url, headers)
    try:
        doc = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:  # feedparser is meant not to raise; never let one document stop the poller.
        raise FeedParseError(url, f"feedparser failed: {type(exc).__name__}: {exc}") from exc
    bozo_exc = doc.get("bozo_exception") if doc.get("bozo") else None
    broken = bozo_exc is not None and not isinstance(bozo_exc, _HARMLESS_BOZO)
    bozo = f"{type(bozo_exc).__name__}: {bozo_exc}" if broken else None
    raw_entries = list(doc.get("entries") or [])
    version = doc.get("version") or ""
    if not raw_entries and (not version or broken):
        raise FeedParseError(url, f"not a feed ({bozo or 'no RSS/Atom root element'})")
    kept = raw_entries[:max_entries]
    entries: list[RawEntry] = []
    rejected: list[str] = []
    for raw in kept:
        try:
            entries.append(_xml_entry(raw))
        except (AttributeError, TypeError, ValueError):
            rejected.append("malformed")
    meta = doc.get("feed") or {}
    return ParsedFeed(
        format=version or "unknown",
        entries=tuple(entries),
        rejected=tuple(rejected),
        title=_opt_text(meta.get("title")),
        link=_opt_text(meta.get("link")),
        language=_opt_text(meta.get("language")),
        ttl_seconds=_ttl_seconds(meta.get("ttl")),
        bozo=bozo,
        dropped=len(raw_entries) - len(kept),
    )


# --- JSON Feed (https://jsonfeed.org/version/1.1) -----------------------------------------------------------


def _json_authors(item: dict[str, Any]) -> tuple[str, ...]:
    raw = item.get("authors")
    if not isinstance(raw, list):
        raw = [item.get("author")] if isinstance(item.get("author"), dict) else []
    names = (_opt_text(a.get("name")) for a in raw if isinstance(a, dict))
    return tuple(name for name in names if name)


def _json_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return _opt_text(value)


def _json_entry(item: dict[str, Any]) -> RawEntry:
    content_html = _opt_text(item.get("content_html"))
    content_text = _opt_text(item.get("content_text"))
    content = content_html or content_text
    summary = _text(item.get("summary"))
    published = parse_datetime(item.get("date_published")) or parse_datetime(item.get("date_modified"))
    return RawEntry(
        guid=_json_id(item.get("id")),
        link=_opt_text(item.get("url")) or _opt_text(item.get("external_url")),
        title=_text(item.get("title")),
        summary=summary,
        content=content if content != summary else None,
        published=published,
        authors=_json_authors(item),
        language=_opt_text(item.get("language")),
    )


def _parse_json_feed(body: bytes, url: str, max_entries: int | None) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except RecursionError as exc:  # nesting deeper than the interpreter's recursion limit
        raise FeedParseError(url, "invalid JSON: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer over 4,300 digits
        raise FeedParseError(url, f"invalid JSON: {str(exc)[:200]}") from exc
    if not isinstance(doc, dict):
        raise FeedParseError(url, "JSON Feed must be an object")
    version = _text(doc.get("version"))
    items = doc.get("items")
    if not version.startswith("https://jsonfeed.org/version/") and not isinstance(items, list):
        raise FeedParseError(url, "JSON document is not a JSON Feed (no version, no items)")
    if not isinstance(items, list):
        items = []
    kept = items[:max_entries]
    entries: list[RawEntry] = []
    rejected: list[str] = []
    for item in kept:
        if not isinstance(item, dict):
            rejected.append("malformed")
            continue
        entries.append(_json_entry(item))
    return ParsedFeed(
        format="json" + version.rsplit("/", 1)[-1].replace(".", "") if version else "json",
        entries=tuple(entries),
        rejected=tuple(rejected),
        title=_opt_text(doc.get("title")),
        link=_opt_text(doc.get("home_page_url")),
        language=_opt_text(doc.get("language")),
        dropped=len(items) - len(kept),
    )
