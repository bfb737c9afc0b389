"""CAP 1.2 (OASIS Common Alerting Protocol) documents, one per alert version; mapping in docs/serve.md.

    xml_bytes = render_cap(version.alert, earlier=[v1, v2], sender="newswatch@example.org",
                           web="https://alerts.example.org/alerts/al-1")

The identifier is ``newswatch-<alert_id>-v<version>`` (alert id percent-encoded: CAP forbids spaces and
commas there); version 1 is ``msgType`` Alert, later versions Update and ``references`` the earlier
versions the read model holds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from newswatch.contracts import Alert
from newswatch.serve.render import EVENT_LABELS, country_name
from newswatch.serve.xmltext import xml_text

__all__ = [
    "CAP_NS",
    "SEVERITY",
    "URGENCY",
    "cap_certainty",
    "cap_identifier",
    "cap_sent",
    "render_cap",
]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
#: newswatch severity -> CAP <severity> (Extreme is never claimed from news reports alone)
SEVERITY = {"flash": "Severe", "urgent": "Moderate", "routine": "Minor"}
#: newswatch severity -> CAP <urgency>
URGENCY = {"flash": "Immediate", "urgent": "Expected", "routine": "Unknown"}
#: every event type is a CAP "Security" event (military, political and civil-security matters)
CATEGORY = "Security"
_HEADLINE_CHARS = 160  # CAP 1.2 §3.2.2: headline SHOULD be under 160 characters


def cap_certainty(alert: Alert) -> str:
    """Observed: p >= 0.9 and at least two outlets; Likely: p >= 0.5; Possible otherwise."""
    if alert.probability >= 0.9 and alert.source_count >= 2:
        return "Observed"
    if alert.probability >= 0.5:
        return "Likely"
    return "Possible"


def cap_identifier(alert_id: str, version: int) -> str:
    return f"newswatch-{quote(alert_id, safe='')}-v{version}"


def cap_sent(value: datetime) -> str:
    """CAP's dateTime form: seconds, explicit offset, never ``Z`` (``2022-08-15T13:04:11+00:00``)."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = xml_text(text)
    return element


def _pair(parent: ET.Element, tag: str, name: str, value: str) -> None:
    element = _sub(parent, tag)
    _sub(element, "valueName", name)
    _sub(element, "value", value)


def render_cap(alert: Alert, *, earlier: Sequence[Alert] = (), sender: str, web: str | None) -> bytes:
    """One CAP 1.2 ``<alert>`` for this version of ``alert`` (UTF-8 bytes, XML declaration)."""
    root = ET.Element("alert", {"xmlns": CAP_NS})
    _sub(root, "identifier", cap_identifier(alert.alert_id, alert.version))
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_sent(alert.last_updated))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert" if alert.version == 1 else "Update")
    _sub(root, "scope", "Public")
    refs = [
        f"{sender},{cap_identifier(e.alert_id, e.version)},{cap_sent(e.last_updated)}"
        for e in earlier
        if e.version < alert.version
    ]
    if alert.version > 1 and refs:
        _sub(root, "references", " ".join(refs))
    info = _sub(root, "info")
    _sub(info, "category", CATEGORY)
    label = EVENT_LABELS.get(alert.event_type, alert.event_type)
    _sub(info, "event", label)
    _sub(info, "responseType", "Monitor")
    _sub(info, "urgency", URGENCY[alert.severity])
    _sub(info, "severity", SEVERITY[alert.severity])
    _sub(info, "certainty", cap_certainty(alert))
    _pair(info, "eventCode", "newswatch:event_type", alert.event_type)
    _pair(info, "eventCode", "newswatch:severity", alert.severity)
    _sub(info, "senderName", "newswatch")
    headline = alert.headline or alert.evidence[0].sentence
    _sub(info, "headline", headline[:_HEADLINE_CHARS])
    description = [f"- {e.sentence} ({e.outlet or e.url})" for e in alert.evidence]
    _sub(info, "description", "\n".join(description))
    if web:
        _sub(info, "web", web)
    _pair(info, "parameter", "newswatch:probability", f"{alert.probability:.3f}")
    _pair(info, "parameter", "newswatch:source_count", str(alert.source_count))
    _pair(info, "parameter", "newswatch:outlets", ", ".join(alert.outlets))
    _pair(info, "parameter", "newswatch:first_seen", cap_sent(alert.first_seen))
    for link in alert.links:
        _pair(info, "parameter", "newswatch:link", link)
    for code in alert.countries:
        area = _sub(info, "area")
        _sub(area, "areaDesc", country_name(code))
        _pair(area, "geocode", "ISO 3166-1 alpha-2", code)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
