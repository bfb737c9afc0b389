"""The console destination and ``newswatch alerts tail``: one escaped line per alert.

Titles and evidence come from the open web, so nothing is printed raw: control characters (ANSI escape
sequences, carriage returns, newlines) become ``\\xNN`` and ``<``, ``>``, ``&`` become HTML entities, so a
hostile title can neither drive the terminal nor become markup when the output is pasted into a page.

    print(format_alert(alert))
    # [flash] coup v1 new  ML,NE  p=0.97  "Soldiers seize state TV in Bamako"  (3 sources) https://...
    # [routine] coup v1 new  GW  p=0.71  "Gunfire near the presidential palace"  (1 source) https://...
"""

from __future__ import annotations

import html
import unicodedata

from newswatch.contracts import Alert

__all__ = ["escape_text", "format_alert"]


def escape_text(text: str, *, limit: int = 300) -> str:
    """Make untrusted ``text`` safe for a terminal and for HTML, cut to ``limit`` characters.

    >>> escape_text("<script>\\x1b[2J")
    '&lt;script&gt;\\\\x1b[2J'
    """
    out: list[str] = []
    for ch in text[:limit]:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    escaped = html.escape("".join(out), quote=False)
    return escaped + ("…" if len(text) > limit else "")


def format_alert(alert: Alert) -> str:
    """One human line for ``alert``, every untrusted field escaped (see :func:`escape_text`)."""
    title = alert.headline or (alert.evidence[0].sentence if alert.evidence else "")
    countries = ",".join(alert.countries) or "--"
    link = escape_text(alert.links[0], limit=500) if alert.links else ""
    sources = "source" if alert.source_count == 1 else "sources"
    return (
        f"[{alert.severity}] {alert.event_type} v{alert.version} {alert.status}  {countries}  "
        f'p={alert.probability:.2f}  "{escape_text(title)}"  ({alert.source_count} {sources}) {link}'
    )
