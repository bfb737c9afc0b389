"""Webhook payload formats: the Alert v1 JSON, or a chat message built from the alert for Slack or Teams.

A webhook destination picks one with ``format`` (default ``json``); every format is sent signed the same
way (``signing.py``) and serialised HTML-inert (``encoding.dumps_inert``).

- ``json``: the Alert v1 record itself (``encoding.encode_alert``).
- ``slack``: a Slack incoming-webhook message, ``{"text": fallback, "blocks": [...]}`` in Block Kit
  (https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks).
- ``teams``: a Microsoft Teams message carrying the Adaptive Card below as its one attachment
  (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
- ``adaptive_card``: the Adaptive Card 1.4 alone (https://adaptivecards.io/explorer/), for hosts that take
  a bare card (Power Automate, Outlook, a bot).

Alert text comes from the open web. Neither target offers a way to escape its markup everywhere, so
untrusted text (headline, evidence, outlet names) goes only where the target renders text literally:
Slack ``plain_text`` objects (no mrkdwn, mentions or links) and Adaptive Card ``TextRun`` elements (no
markdown). Slack ``mrkdwn`` and card ``TextBlock``/``FactSet`` text is built from our own values (severity,
event type, ISO country codes and names, counts, times, link hosts) and still escaped per Slack's rules
(``&``, ``<``, ``>``; https://api.slack.com/reference/surfaces/formatting#escaping). Control and format
characters (newlines, ANSI escapes, bidi overrides) are removed from all of it, and only http(s) URLs
become buttons or links.

    body = encode_payload(alert, "slack")    # bytes for the POST
    slack_payload(alert)["blocks"][0]        # {"type": "header", "text": {"type": "plain_text", ...}}
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any, Literal, get_args
from urllib.parse import quote, urlsplit

import pycountry

from newswatch.contracts import Alert
from newswatch.notify.encoding import dumps_inert, encode_alert

__all__ = [
    "ADAPTIVE_CARD_VERSION",
    "PAYLOAD_FORMATS",
    "PayloadFormat",
    "adaptive_card",
    "chat_text",
    "encode_payload",
    "safe_url",
    "slack_escape",
    "slack_link",
    "slack_payload",
    "teams_payload",
]

PayloadFormat = Literal["json", "slack", "teams", "adaptive_card"]
PAYLOAD_FORMATS: tuple[PayloadFormat, ...] = get_args(PayloadFormat)
#: Teams renders Adaptive Cards up to 1.5; 1.4 keeps Outlook and older hosts (every element used is <= 1.2).
ADAPTIVE_CARD_VERSION = "1.4"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TEAMS_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"

# Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks and .../block-elements).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_FIELD_CHARS = 2000
SLACK_BUTTON_TEXT_CHARS = 75
SLACK_URL_CHARS = 3000

#: How much of an alert a chat message shows: a few evidence sentences and source buttons, not all.
MAX_EVIDENCE = 5
MAX_LINKS = 5
_SENTENCE_CHARS = 500
_OUTLET_CHARS = 60

_SEVERITY_MARK = {"flash": "🔴", "urgent": "🟠", "routine": "🔵"}
# Adaptive Card TextBlock colours (https://adaptivecards.io/explorer/TextBlock.html)
_SEVERITY_COLOUR = {"flash": "Attention", "urgent": "Warning", "routine": "Accent"}
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_SPACES = re.compile(r"\s+")
_MRKDWN_MARKS = str.maketrans("", "", "*_~`")


def chat_text(text: str | None, limit: int) -> str:
    """Untrusted ``text`` as one line for a chat target: control and format characters (newlines, ANSI
    escapes, zero-width and bidi controls) removed or made spaces, whitespace collapsed, cut to ``limit``
    characters with an ellipsis.

    >>> chat_text("Coup\\n\\x1b[31min \\u202eMali", 20)
    'Coup [31min Mali'
    """
    out: list[str] = []
    for ch in text or "":
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif category != "Cf":
            out.append(ch)
    clean = _SPACES.sub(" ", "".join(out)).strip()
    return clean if len(clean) <= limit else clean[: max(0, limit - 1)].rstrip() + "…"


def slack_escape(text: str) -> str:
    """Slack's escaping for mrkdwn: ``&``, ``<`` and ``>`` as HTML entities (nothing else is decoded).

    >>> slack_escape("<!channel> & <http://evil|click>")
    '&lt;!channel&gt; &amp; &lt;http://evil|click&gt;'
    """
    return text.translate(_SLACK_ESCAPES)


def safe_url(url: str) -> str | None:
    """``url`` when it is an absolute http(s) URL fit for a button or link (no spaces, control characters or
    credentials, at most 3,000 characters), else None.

    >>> safe_url("https://www.dw.com/en/a-1"), safe_url("javascript:alert(1)")
    ('https://www.dw.com/en/a-1', None)
    """
    if len(url) > SLACK_URL_CHARS or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    return url


def slack_link(url: str, text: str) -> str:
    """A mrkdwn link ``<url|text>``: both parts escaped, and ``|`` in the URL percent-encoded so the text
    cannot be taken for part of it. ``url`` must have passed :func:`safe_url`.

    >>> slack_link("https://x.org/a?b=1&c=|", "<b> & co")
    '<https://x.org/a?b=1&amp;c=%7C|&lt;b&gt; &amp; co>'
    """
    target = slack_escape(url.replace("|", quote("|")))
    return f"<{target}|{slack_escape(chat_text(text, 200)) or target}>"


def encode_payload(alert: Alert, fmt: PayloadFormat = "json") -> bytes:
    """The webhook body of ``alert`` in ``fmt``, as HTML-inert UTF-8 JSON."""
    if fmt == "json":
        return encode_alert(alert)
    builders = {"slack": slack_payload, "teams": teams_payload, "adaptive_card": adaptive_card}
    return dumps_inert(builders[fmt](alert)).encode("utf-8")


# --- what every format shows ----------------------------------------------------------------------------


def _title(alert: Alert) -> str:
    return alert.headline or (alert.evidence[0].sentence if alert.evidence else "") or alert.event_type


def _event(alert: Alert) -> str:
    return alert.event_type.replace("_", " ")


def _flag(code: str) -> str:
    """The flag emoji of an ISO alpha-2 code (regional indicator pair); Alert v1 guarantees ``[A-Z]{2}``."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)


def _country(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or getattr(country, "name", None)
    return f"{_flag(code)} {name} ({code})" if name else code


def _countries(alert: Alert) -> str:
    return ", ".join(_country(c) for c in alert.countries) or "not identified"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _summary(alert: Alert) -> str:
    """Trusted one-line summary: severity, event type, status and version, sources."""
    sources = f"{alert.source_count} source{'s' if alert.source_count != 1 else ''}"
    return f"{alert.severity.upper()} · {_event(alert)} · {alert.status} v{alert.version} · {sources}"


def _links(alert: Alert) -> list[tuple[str, str]]:
    """Up to MAX_LINKS (url, label) pairs: evidence URLs with their outlet first, then the other links."""
    seen: dict[str, str] = {}
    for evidence in alert.evidence:
        url = safe_url(evidence.url)
        if url is not None and url not in seen:
            seen[url] = evidence.outlet or ""
    for link in alert.links:
        url = safe_url(link)
        if url is not None and url not in seen:
            seen[url] = ""
    return [
        (url, chat_text(label, _OUTLET_CHARS) or _host(url)) for url, label in list(seen.items())[:MAX_LINKS]
    ]


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _evidence(alert: Alert) -> list[tuple[str, str]]:
    """(sentence, outlet) of the first MAX_EVIDENCE non-empty evidence items, cleaned (still untrusted)."""
    items = (
        (chat_text(e.sentence, _SENTENCE_CHARS), chat_text(e.outlet, _OUTLET_CHARS)) for e in alert.evidence
    )
    return [(sentence, outlet) for sentence, outlet in items if sentence][:MAX_EVIDENCE]


# --- Slack ------------------------------------------------------------------------------------------------


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: no automatic linking of URLs, channel names or mentions in our own text either
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _field(label: str, value: str) -> dict[str, Any]:
    """A section field ``*label*\\nvalue`` (our own text), cut before escaping so no entity is split."""
    return _mrkdwn(slack_escape(f"*{label}*\n{chat_text(value, SLACK_FIELD_CHARS // 5 - len(label) - 4)}"))


def _sources(links: list[tuple[str, str]]) -> str:
    """``Sources: <url|host> · ...``, as many links as fit one text object."""
    text = "Sources:"
    for url, _ in links:
        link = slack_link(url, _host(url))
        if len(text) + len(link) + 3 > SLACK_SECTION_CHARS:
            break
        text += (" " if text == "Sources:" else " · ") + link
    return text


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: header (headline), context (severity, event, version, sources),
    fields (countries, times), one section per evidence sentence, source buttons and links."""
    title = chat_text(_title(alert), SLACK_HEADER_CHARS) or _event(alert)
    mark = _SEVERITY_MARK[alert.severity]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title)},
        {"type": "context", "elements": [_mrkdwn(slack_escape(f"{mark} *{_summary(alert)}*"))]},
        {
            "type": "section",
            "fields": [
                _field("Countries", _countries(alert)),
                _field("First seen", _when(alert.first_seen)),
                _field("Last updated", _when(alert.last_updated)),
                _field("Probability", f"{alert.probability:.2f}"),
            ],
        },
        {"type": "divider"},
    ]
    for sentence, outlet in _evidence(alert):
        quoted = f"“{sentence}”" + (f" — {outlet}" if outlet else "")
        blocks.append({"type": "section", "text": _plain(chat_text(quoted, SLACK_SECTION_CHARS))})
    links = _links(alert)
    if links:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": _plain(chat_text(label, SLACK_BUTTON_TEXT_CHARS)),
                        "url": url,
                        "action_id": f"source-{i}",
                    }
                    for i, (url, label) in enumerate(links, start=1)
                ],
            }
        )
        blocks.append({"type": "context", "elements": [_mrkdwn(_sources(links))]})
    # the notification text is mrkdwn with no literal form: formatting marks are dropped from the headline
    fallback = f"{_summary(alert)}: {title.translate(_MRKDWN_MARKS)}"
    return {"text": slack_escape(fallback), "blocks": blocks[:SLACK_MAX_BLOCKS]}


# --- Adaptive Card and Teams ------------------------------------------------------------------------------


def _text_run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def adaptive_card(alert: Alert) -> dict[str, Any]:
    """An Adaptive Card 1.4: severity line, headline, facts (event, countries, sources, times, version),
    the evidence sentences and an Action.OpenUrl per source link."""
    title = chat_text(_title(alert), 300) or _event(alert)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{_SEVERITY_MARK[alert.severity]} {alert.severity.upper()} · {_event(alert)}",
            "weight": "Bolder",
            "color": _SEVERITY_COLOUR[alert.severity],
            "size": "Small",
            "wrap": True,
        },
        {"type": "RichTextBlock", "inlines": [_text_run(title, size="Large", weight="Bolder")]},
        {
            "type": "FactSet",
            "facts": [
                {"title": "Event", "value": _event(alert)},
                {"title": "Severity", "value": alert.severity},
                {"title": "Countries", "value": _countries(alert)},
                {"title": "Sources", "value": str(alert.source_count)},
                {"title": "First seen", "value": _when(alert.first_seen)},
                {"title": "Last updated", "value": _when(alert.last_updated)},
                {"title": "Version", "value": f"v{alert.version} ({alert.status})"},
            ],
        },
        {"type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": True, "spacing": "Medium"},
    ]
    for sentence, outlet in _evidence(alert):
        inlines = [_text_run(f"“{sentence}”")]
        if outlet:
            inlines.append(_text_run(f" — {outlet}", isSubtle=True))
        body.append({"type": "RichTextBlock", "inlines": inlines})
    actions = [
        {"type": "Action.OpenUrl", "title": chat_text(label, 40), "url": url} for url, label in _links(alert)
    ]
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        # shown by hosts that cannot render the card, and "may contain markdown": our own values only
        "fallbackText": " · ".join(
            [_summary(alert), *([", ".join(alert.countries)] if alert.countries else [])]
        ),
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def teams_payload(alert: Alert) -> dict[str, Any]:
    """A Teams webhook message: the Adaptive Card as its one attachment."""
    attachment = {"contentType": TEAMS_CARD_CONTENT_TYPE, "contentUrl": None, "content": adaptive_card(alert)}
    return {"type": "message", "attachments": [attachment]}
