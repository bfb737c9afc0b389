"""Chat payload formats: each payload has its target's documented shape, whatever the alert holds, and
hostile alert text (mentions, mrkdwn, links, markdown, HTML, control characters) stays inert."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tests.unit.notify.chat_shapes import assert_adaptive_card, assert_slack_message, assert_teams_message
from tests.unit.notify.receiver import make_alert

from newswatch.contracts import Alert
from newswatch.notify.encoding import encode_alert
from newswatch.notify.formats import (
    PAYLOAD_FORMATS,
    adaptive_card,
    chat_text,
    encode_payload,
    safe_url,
    slack_escape,
    slack_link,
    slack_payload,
    teams_payload,
)

HOSTILE_HEADLINE = (
    "<!channel> *bold* _it_ ~s~ `code` <http://evil.example|click here> <@U024BE7LH> "
    '<script>alert("x")</script><img src=x onerror=alert(1)> [click](javascript:alert(1)) &amp;'
)
HOSTILE_SENTENCE = "Read <!here> at <https://evil.example|the real story> **now**\n\x1b[2J\u202egnp.exe"
HOSTILE_OUTLET = "*Evil* <!everyone> <b>Outlet</b>"


def _hostile() -> Alert:
    return make_alert(
        headline=HOSTILE_HEADLINE,
        evidence=[
            {
                "sentence": HOSTILE_SENTENCE,
                "article_id": "a1",
                "url": "javascript:alert(1)",
                "outlet": HOSTILE_OUTLET,
            },
            {
                "sentence": "Soldiers seized the state broadcaster.",
                "article_id": "a2",
                "url": "https://ok.example/a2?x=1&y=|2",
                "outlet": HOSTILE_OUTLET,
            },
        ],
        links=[
            "javascript:alert(1)",
            "https://ok.example/a2?x=1&y=|2",
            "data:text/html,<b>x</b>",
            "https://user:pw@evil.example/",
        ],
        outlets=[HOSTILE_OUTLET],
        countries=["ML", "NE"],
    )


def _huge() -> Alert:
    """Every field past what a chat message can show: long text, many sentences, links and countries."""
    countries = [
        "ML",
        "NE",
        "BF",
        "TD",
        "CD",
        "SD",
        "FR",
        "US",
        "GB",
        "DE",
        "RU",
        "CN",
        "NG",
        "SN",
        "GW",
        "GN",
    ]
    return make_alert(
        headline="Coup " * 600,
        evidence=[
            {
                "sentence": f"Sentence {i} " + "x" * 4000,
                "article_id": f"a{i}",
                "url": f"https://n{i}.example/{'p' * 2900}",
                "outlet": "O" * 500,
            }
            for i in range(120)
        ],
        links=[f"https://l{i}.example/{'q' * 2900}" for i in range(80)]
        + ["https://too-long.example/" + "z" * 3000],
        countries=countries,
        source_count=120,
    )


def _empty_text() -> Alert:
    """Headline and outlet made only of control/format characters, so nothing visible is left of them."""
    return make_alert(
        headline="\x1b\u202e\u200b\n",
        evidence=[{"sentence": "\u2028", "article_id": "a1", "url": "https://ok.example/", "outlet": "\x00"}],
    )


ALERTS = {
    "plain": make_alert(),
    "hostile": _hostile(),
    "huge": _huge(),
    "empty_text": _empty_text(),
    "no_country": make_alert(countries=[], headline=None, severity="routine", status="update", version=7),
}


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_every_format_has_its_targets_shape(name: str) -> None:
    alert = ALERTS[name]
    assert_slack_message(slack_payload(alert))
    assert_teams_message(teams_payload(alert))
    assert_adaptive_card(adaptive_card(alert))
    for fmt in PAYLOAD_FORMATS:
        body = encode_payload(alert, fmt)
        assert b"<" not in body and b">" not in body and b"&" not in body  # HTML-inert on the wire
        json.loads(body)


def test_json_format_is_the_alert_record_unchanged() -> None:
    alert = make_alert()
    assert encode_payload(alert) == encode_payload(alert, "json") == encode_alert(alert)


def test_slack_message_carries_the_alert() -> None:
    alert = make_alert(
        alert_id="coup-gw",
        event_type="coup",
        severity="flash",
        headline="Soldiers seize power in Guinea-Bissau",
        countries=["GW"],
        source_count=3,
        version=2,
        status="update",
    )
    payload = slack_payload(alert)
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Soldiers seize power in Guinea-Bissau", "emoji": False},
    }
    context = blocks[1]["elements"][0]["text"]
    assert "FLASH" in context and "coup" in context and "update v2" in context and "3 sources" in context
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert "*Countries*\n🇬🇼 Guinea-Bissau (GW)" in fields
    assert "*First seen*\n2022-08-15 13:04 UTC" in fields
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert sections == ["“The last Barkhane soldiers crossed into Niger on Monday.” — DW"]
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert actions["elements"][0]["url"] == "https://www.dw.com/en/a-1"
    assert actions["elements"][0]["text"]["text"] == "DW"
    assert blocks[-1]["elements"][0]["text"] == "Sources: <https://www.dw.com/en/a-1|www.dw.com>"
    assert payload["text"].startswith("FLASH · coup · update v2 · 3 sources: Soldiers seize power")


def test_adaptive_card_and_teams_message_carry_the_alert() -> None:
    alert = make_alert(severity="urgent", countries=["ML", "FR"])
    card = adaptive_card(alert)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert (
        card["body"][0]["text"].endswith("URGENT · military withdrawal")
        and card["body"][0]["color"] == "Warning"
    )
    assert card["body"][1]["inlines"][0]["text"] == "France completes military withdrawal from Mali"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Countries"] == "🇲🇱 Mali (ML), 🇫🇷 France (FR)"
    assert facts["Severity"] == "urgent" and facts["Sources"] == "1" and facts["Version"] == "v1 (new)"
    evidence = card["body"][4]["inlines"]
    assert evidence[0]["text"] == "“The last Barkhane soldiers crossed into Niger on Monday.”"
    assert evidence[1] == {"type": "TextRun", "text": " — DW", "isSubtle": True}
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "DW", "url": "https://www.dw.com/en/a-1"}]
    teams = teams_payload(alert)
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"] == card


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, value) of every string in a JSON value; the path names keys and parent ``type`` values."""
    if isinstance(node, dict):
        where = f"{path}/{node['type']}" if isinstance(node.get("type"), str) else path
        return [pair for key, value in node.items() for pair in _strings(value, f"{where}.{key}")]
    if isinstance(node, list):
        return [pair for item in node for pair in _strings(item, path)]
    return [(path, node)] if isinstance(node, str) else []


_OUR_LINK = re.compile(r"<https?://[^\s<>|]+\|[^<>|]*>")


def test_hostile_text_is_inert_in_slack() -> None:
    payload = slack_payload(_hostile())
    strings = _strings(payload)
    blocks_mrkdwn = [value for path, value in strings if path.endswith("/mrkdwn.text")]
    # the alert's own text never reaches a mrkdwn object in the blocks
    assert not [t for t in blocks_mrkdwn if "evil" in t or "click" in t or "Evil" in t or "channel" in t]
    mrkdwn = [*blocks_mrkdwn, payload["text"]]
    for text in mrkdwn:
        # Slack parses <...> (mentions, links) in mrkdwn: only the links we build may remain, nothing else
        leftover = _OUR_LINK.sub("", text)
        assert "<" not in leftover and ">" not in leftover, text
        assert "*bold*" not in text and "_it_" not in text and "`code`" not in text and "~s~" not in text
    # the hostile text itself is there to read, but only as plain_text (no formatting, mentions or links)
    plain = [value for path, value in strings if path.endswith("/plain_text.text")]
    header = plain[0]
    assert header.startswith("<!channel> *bold*") and len(header) <= 150
    assert any("<!here>" in value for value in plain)
    assert all(
        "\x1b" not in v and "\n" not in v and "\u202e" not in v
        for path, v in strings
        if ".fields" not in path
    )
    # no button or link to anything but the one http(s) URL without credentials; '|' cannot end its URL
    buttons = [b for block in payload["blocks"] if block["type"] == "actions" for b in block["elements"]]
    assert [b["url"] for b in buttons] == ["https://ok.example/a2?x=1&y=|2"]
    assert buttons[0]["text"]["text"] == HOSTILE_OUTLET
    assert (
        payload["blocks"][-1]["elements"][0]["text"]
        == "Sources: <https://ok.example/a2?x=1&amp;y=%7C2|ok.example>"
    )
    # the notification text keeps the headline readable, escaped and without formatting marks
    assert payload["text"].startswith(
        "FLASH · military withdrawal · new v1 · 1 source: &lt;!channel&gt; bold it s code "
        "&lt;http://evil.example|click here&gt; &lt;@U024BE7LH&gt; &lt;script&gt;"
    )


def test_hostile_text_is_inert_in_adaptive_cards() -> None:
    card = adaptive_card(_hostile())
    strings = _strings(card)
    for path, value in strings:
        # markdown may be processed in all three (fallbackText "may contain markdown")
        if path.endswith("/TextBlock.text") or ".facts" in path or path.endswith(".fallbackText"):
            # markdown is processed here: nothing of the alert's own text, only our values
            assert "click" not in value and "<" not in value and "*" not in value.replace("·", ""), (
                path,
                value,
            )
    runs = [value for path, value in strings if path.endswith("/TextRun.text")]
    assert runs[0].startswith("<!channel> *bold*")  # literal in a TextRun (markdown is not supported there)
    assert any("**now**" in run for run in runs)
    assert all("\x1b" not in v and "\n" not in v and "\u202e" not in v for _, v in strings)
    assert [a["url"] for a in card["actions"]] == ["https://ok.example/a2?x=1&y=|2"]


def test_fallback_text_of_adaptive_card_is_our_summary() -> None:
    card = adaptive_card(_hostile())
    assert card["fallbackText"] == "FLASH · military withdrawal · new v1 · 1 source · ML, NE"


def test_limits_hold_for_an_oversized_alert() -> None:
    payload = slack_payload(_huge())
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) == 150 and blocks[0]["text"]["text"].endswith("…")
    evidence = [b for b in blocks if b["type"] == "section" and "text" in b]
    assert len(evidence) == 5 and all(len(b["text"]["text"]) <= 3000 for b in evidence)
    (actions,) = [b for b in blocks if b["type"] == "actions"]
    assert len(actions["elements"]) == 5
    assert all(len(b["url"]) <= 3000 for b in actions["elements"])
    assert len(blocks[-1]["elements"][0]["text"]) <= 3000
    assert len(teams_payload(_huge())["attachments"][0]["content"]["actions"]) == 5


def test_empty_text_falls_back_to_the_event_type() -> None:
    payload = slack_payload(_empty_text())
    assert payload["blocks"][0]["text"]["text"] == "military withdrawal"
    assert adaptive_card(_empty_text())["body"][1]["inlines"][0]["text"] == "military withdrawal"
    buttons = [b for block in payload["blocks"] if block["type"] == "actions" for b in block["elements"]]
    assert buttons[0]["text"]["text"] == "ok.example"  # the host when the outlet has no visible text


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://www.dw.com/en/a-1", True),
        ("http://127.0.0.1:8080/feed", True),
        ("HTTPS://EXAMPLE.ORG/x", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<b>", False),
        ("ftp://example.org/x", False),
        ("https://user:pw@example.org/", False),
        ("https://exa mple.org/", False),
        ("https://example.org/\u202e", False),
        ("https:///nohost", False),
        ("https://[::1/", False),
        ("https://example.org/" + "x" * 3000, False),
    ],
)
def test_safe_url(url: str, ok: bool) -> None:
    assert (safe_url(url) == url) is ok


def test_slack_escaping_and_links() -> None:
    assert slack_escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert (
        slack_link("https://x.org/?a=1&b=2", "R&D <news>")
        == "<https://x.org/?a=1&amp;b=2|R&amp;D &lt;news&gt;>"
    )
    assert slack_link("https://x.org/a|b", "t") == "<https://x.org/a%7Cb|t>"


def test_chat_text_cleans_and_cuts() -> None:
    assert chat_text("a\nb\r\n\tc\x1b[0m", 100) == "a b c [0m"
    assert chat_text("\u202eevil\u200b", 100) == "evil"
    assert chat_text("x" * 10, 5) == "xxxx…"
    assert chat_text(None, 5) == ""
