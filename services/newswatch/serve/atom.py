"""Atom 1.0 (RFC 4287) feed of a filtered alert list: one entry per alert, updated in place as it grows.

An entry's ``id`` is the alert's (``urn:newswatch:alert:<alert_id>``) and never changes; each new version
changes ``updated`` and the content, so feed readers show the entry as updated, not as a new one.

    xml_bytes = render_atom(alerts, flt, base_url="http://127.0.0.1:9104", self_href=".../alerts.atom?...")
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from newswatch.serve.query import AlertFilter
from newswatch.serve.render import EVENT_LABELS, alert_path, country_name, safe_url
from newswatch.serve.store import StoredAlert
from newswatch.serve.xmltext import xml_text

__all__ = ["ATOM_NS", "entry_id", "render_atom"]

ATOM_NS = "http://www.w3.org/2005/Atom"


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry_id(alert_id: str) -> str:
    return f"urn:newswatch:alert:{quote(alert_id, safe='')}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _title(flt: AlertFilter) -> str:
    parts = []
    if flt.event_type:
        parts.append(EVENT_LABELS.get(flt.event_type, flt.event_type))
    if flt.country:
        parts.append(country_name(flt.country))
    if flt.severity:
        parts.append(flt.severity)
    return "newswatch alerts" + (f": {', '.join(parts)}" if parts else "")


def render_atom(alerts: Sequence[StoredAlert], flt: AlertFilter, *, base_url: str, self_href: str) -> bytes:
    """The feed document (UTF-8 bytes); ``base_url`` has no trailing slash."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in flt.query_items())
    _sub(feed, "id", f"urn:newswatch:alerts{('?' + query) if query else ''}")
    _sub(feed, "title", _title(flt))
    newest = max((s.alert.last_updated for s in alerts), default=datetime(1970, 1, 1, tzinfo=UTC))
    _sub(feed, "updated", _rfc3339(newest))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_href)
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/{('?' + query) if query else ''}")
    author = _sub(feed, "author")
    _sub(author, "name", "newswatch")
    _sub(feed, "generator", "newswatch serve")
    for stored in alerts:
        a = stored.alert
        entry = _sub(feed, "entry")
        _sub(entry, "id", entry_id(a.alert_id))
        headline = a.headline or a.evidence[0].sentence
        label = EVENT_LABELS.get(a.event_type, a.event_type)
        countries = ", ".join(f"{country_name(c)} ({c})" for c in a.countries)
        _sub(
            entry,
            "title",
            f"[{a.severity.upper()}] {label}{f' - {countries}' if countries else ''}: {headline}",
        )
        _sub(entry, "updated", _rfc3339(a.last_updated))
        _sub(entry, "published", _rfc3339(a.first_seen))
        _sub(entry, "link", rel="alternate", type="text/html", href=f"{base_url}{alert_path(a.alert_id)}")
        for link in a.links:
            url = safe_url(link)
            if url:
                _sub(entry, "link", rel="related", href=url)
        _sub(entry, "category", term=a.event_type, label=label)
        _sub(entry, "category", term=f"severity:{a.severity}", label=a.severity)
        for code in a.countries:
            _sub(entry, "category", term=f"country:{code}", label=country_name(code))
        lines = [
            f"{label}, {a.severity}, version {a.version}, {a.source_count} sources: {', '.join(a.outlets)}."
        ]
        lines += [f"- {e.sentence} ({e.outlet or e.url})" for e in a.evidence]
        _sub(entry, "summary", "\n".join(lines), type="text")
    ET.indent(feed)
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
