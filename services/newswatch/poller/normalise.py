"""Clean one raw entry into an :class:`~newswatch.contracts.Article`, or reject it with a bounded reason.

- URL: absolute, http(s), host lowercased, default port and fragment dropped, tracking parameters dropped.
- id: ``sha256`` hex of the guid when it is a URL (canonicalised), else of the feed's namespace (its
  configured name, stable when the feed's URL moves) plus the guid (a guid is only unique within its feed),
  else of the canonical link.
- Text: HTML stripped (script/style dropped), entities decoded, whitespace collapsed, lengths capped.
- Dates: aware UTC; before 1970 or more than a day after the fetch is treated as unknown.
- Language: entry, then feed configuration (the operator knows better than a CMS default), then the feed
  document, then a small en/fr stop-word heuristic.
- Size: the record as published (key and JSON value) must fit ``max_record_bytes``: Kafka refuses larger ones
  for good, so they are rejected here (``too_large``) instead of failing the feed's publish on every poll.

    context = FeedContext(feed_url="https://example.org/rss", fetched_at=datetime.now(UTC))
    result = normalise_entry(raw_entry, context)
    if isinstance(result, Rejected): metrics.rejected(result.reason)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pydantic import ValidationError

from newswatch.contracts import Article, RecordInvalidError, validate_record
from newswatch.poller.parse import RawEntry
from newswatch.poller.publish import encode_value

__all__ = [
    "MAX_RECORD_BYTES",
    "REJECT_REASONS",
    "FeedContext",
    "Rejected",
    "article_id",
    "canonical_url",
    "detect_language",
    "normalise_datetime",
    "normalise_entry",
    "normalise_language",
    "strip_html",
]

REJECT_REASONS: tuple[str, ...] = (
    "no_url", "bad_url", "empty", "invalid", "malformed", "too_large", "too_many",
)  # fmt: skip
"""Why an entry was rejected: no link nor URL guid; a link that is not http(s); no title nor summary;
the built record failed the Article schema; the document's item was not an entry at all; the encoded record
is over ``max_record_bytes`` (or Kafka refused it for its size); the document has more entries than the
poller's ``max_entries_per_feed`` (the last ones are not read)."""
MAX_RECORD_BYTES = 1_000_000
"""Default cap of an encoded record: the producer and the articles topic take 1 MiB, overhead included."""

_TRACKING_EXACT = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid", "mc_cid",
        "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "xtor", "xtref", "at_medium", "at_campaign", "at_source", "at_link", "ocid", "cmpid", "ref_src",
        "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "spm", "ito", "s_cid", "wt_mc",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WS = re.compile(r"\s+")
_LANG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TITLE_MAX, _SUMMARY_MAX, _CONTENT_MAX, _AUTHOR_MAX = 2000, 20000, 200000, 500
_SUMMARY_FROM_CONTENT = 1000


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What the normaliser knows about the feed an entry came from."""

    feed_url: str
    fetched_at: datetime
    namespace: str | None = None
    """Scope of non-URL guids: the configured feed name (default: ``feed_url``)."""
    base_url: str | None = None
    outlet: str | None = None
    feed_language: str | None = None
    config_language: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """An entry that did not become an Article; ``reason`` is one of :data:`REJECT_REASONS`."""

    reason: str
    detail: str


# --- URLs and ids -------------------------------------------------------------------------------------------


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_EXACT or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str, base: str | None = None) -> str | None:
    """The canonical form of ``url`` (resolved against ``base``), or None when it is not an http(s) URL.

    >>> canonical_url("HTTPS://News.Example.ORG:443/a?id=3&utm_source=rss&fbclid=x#top")
    'https://news.example.org/a?id=3'
    """
    text = url.strip()
    if base:
        text = urljoin(base, text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    query_pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    query = urlencode(query_pairs, doseq=True) if query_pairs else ""
    path = _WS.sub("%20", parts.path) or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def _is_http_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://")) and canonical_url(text) is not None


def article_id(guid: str | None, link: str | None, namespace: str) -> str | None:
    """Stable id: sha256 hex of the canonical URL guid, of ``namespace`` + a non-URL guid, or of the link.

    >>> by_link = article_id(None, "https://example.org/a?utm_source=x", "feed-1")
    >>> by_link == article_id("https://example.org/a", None, "feed-2")
    True
    """
    if guid and guid.strip():
        text = guid.strip()
        key = canonical_url(text) if _is_http_url(text) else None
        if key is None:
            key = f"guid:{namespace}\n{text}"
    elif link:
        key = canonical_url(link)
        if key is None:
            return None
    else:
        return None
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --- Text ---------------------------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg", "head"})
    _BREAK = frozenset(
        {"p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
         "blockquote", "section", "article", "figure", "figcaption", "hr", "table", "pre", "dd", "dt"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BREAK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str | None) -> str:
    """Plain text of an HTML fragment: tags and comments dropped, entities decoded, whitespace collapsed.

    >>> strip_html("<p>Troops&nbsp;<b>leave</b> &amp; go</p><script>x()</script>")
    'Troops leave & go'
    """
    if not text:
        return ""
    if "<" not in text and "&" not in text:
        return _WS.sub(" ", text).strip()
    parser = _TextExtractor()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # pathological markup: fall back to the raw text
        return _WS.sub(" ", text).strip()
    return _WS.sub(" ", "".join(parser.parts)).strip()


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


# --- Dates and language -------------------------------------------------------------------------------------


def normalise_datetime(value: datetime | None, fetched_at: datetime) -> datetime | None:
    """``value`` in UTC, or None when missing, before 1970 or more than a day after ``fetched_at``.

    >>> normalise_datetime(datetime(2999, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)) is None
    True
    """
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if utc < _EPOCH or utc > fetched_at + timedelta(days=1):
        return None
    return utc


def _subtag(part: str) -> str:
    if len(part) == 2 and part.isalpha():
        return part.upper()
    return part.title() if len(part) == 4 else part.lower()


def normalise_language(tag: str | None) -> str | None:
    """A BCP 47 tag in canonical case (``en-US``, ``fr``) or None when ``tag`` is not one.

    >>> normalise_language("fr_fr"), normalise_language("EN"), normalise_language("english")
    ('fr-FR', 'en', None)
    """
    if not tag:
        return None
    parts = tag.strip().replace("_", "-").split("-")
    primary = parts[0].lower()
    if not (2 <= len(primary) <= 3 and primary.isalpha()):
        return None
    fixed = [primary] + [_subtag(part) for part in parts[1:]]
    text = "-".join(fixed)
    return text if _LANG.match(text) and len(text) <= 35 else None


_EN_TEXT = """the of and to in is was for on that with as by at from are it has have been will after says said
its his her their they were an be this which who not but over into than more new president government"""
_FR_TEXT = """le les des du et est une pour qui dans sur au aux avec ont sont été elle ils pas plus ce cette
ses leur leurs selon après lors contre président gouvernement"""
# Function words of other languages that share French's "de", "la", "que"...: their presence means "unsure".
_OTHER_TEXT = """não para com uma os das dos na ao pelo pela el los las por con una del y lo al und der die
das nicht mit ist ein eine von zu den het een van che della sono"""
_EN_WORDS = frozenset(_EN_TEXT.split())
_FR_WORDS = frozenset(_FR_TEXT.split())
_OTHER_WORDS = frozenset(_OTHER_TEXT.split())
_WORD = re.compile(r"[a-zàâäçéèêëîïôöûùüÿœæãõ]+", re.IGNORECASE)


def detect_language(text: str) -> str | None:
    """``"en"`` or ``"fr"`` by counting common function words; None when the text is too short or unclear.

    >>> detect_language("Les soldats français ont quitté le Mali selon le ministère")
    'fr'
    """
    words = [word.lower() for word in _WORD.findall(text)]
    en = sum(word in _EN_WORDS for word in words)
    fr = sum(word in _FR_WORDS for word in words)
    other = sum(word in _OTHER_WORDS for word in words)
    if max(en, fr) < 2 or (other >= max(2, min(en, fr) + 1) and other * 2 >= max(en, fr)):
        return None
    if en >= 2 * fr + 1 or (en > fr and fr <= 1):
        return "en"
    if fr >= 2 * en + 1 or (fr > en and en <= 1):
        return "fr"
    return None


def _first_language(candidates: Iterable[str | None]) -> str | None:
    for candidate in candidates:
        language = normalise_language(candidate)
        if language:
            return language
    return None


# --- Entry -> Article ---------------------------------------------------------------------------------------


def normalise_entry(
    entry: RawEntry, context: FeedContext, *, max_record_bytes: int = MAX_RECORD_BYTES
) -> Article | Rejected:
    """Build and validate the Article for ``entry``; a :class:`Rejected` says why not.

    >>> ctx = FeedContext(feed_url="https://example.org/rss", fetched_at=datetime(2024, 1, 1, tzinfo=UTC))
    >>> normalise_entry(RawEntry(None, "/a", "<b>Hi</b>", "", None, None), ctx).url
    'https://example.org/a'
    """
    base = context.base_url or context.feed_url
    guid = entry.guid.strip() if entry.guid else None
    link_text = entry.link or (guid if guid and _is_http_url(urljoin(base, guid)) else None)
    if not link_text:
        return Rejected("no_url", "entry has neither a link nor a URL guid")
    url = canonical_url(link_text, base)
    if url is None:
        return Rejected("bad_url", f"not an http(s) URL: {link_text[:200]!r}")
    title = _truncate(strip_html(entry.title), _TITLE_MAX)
    summary = strip_html(entry.summary)
    content = strip_html(entry.content) if entry.content else ""
    if not summary and content:
        summary = _truncate(content, _SUMMARY_FROM_CONTENT)
    if not title and not summary:
        return Rejected("empty", "entry has neither a title nor a summary")
    identifier = article_id(guid, url, context.namespace or context.feed_url)
    if identifier is None:
        return Rejected("bad_url", "no stable id")
    cleaned = (_truncate(strip_html(author), _AUTHOR_MAX) for author in entry.authors)
    authors = tuple(dict.fromkeys(author for author in cleaned if author))
    language = _first_language(
        (entry.language, context.config_language, context.feed_language)
    ) or detect_language(f"{title} {summary}")
    try:
        article = Article(
            id=identifier,
            url=url,
            title=title,
            summary=_truncate(summary, _SUMMARY_MAX),
            content=_truncate(content, _CONTENT_MAX) if content and content != summary else None,
            published_at=normalise_datetime(entry.published, context.fetched_at),
            language=language,
            feed_url=context.feed_url,
            outlet=context.outlet[:200] if context.outlet else None,
            authors=authors[:50],
            fetched_at=context.fetched_at,
        )
        record = article.model_dump(mode="json")
        validate_record("article", record)
    except (ValidationError, RecordInvalidError) as exc:
        return Rejected("invalid", str(exc)[:500])
    size = len(identifier) + len(encode_value(record))  # the id is ASCII hex: one byte a character
    if size > max_record_bytes:
        return Rejected(
            "too_large", f"encoded record of {size} bytes exceeds the {max_record_bytes}-byte cap"
        )
    return article
