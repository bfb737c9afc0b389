"""The HTTP app: HTML page and history, JSON API with cursors and OpenAPI, health, metrics, headers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from jsonschema import Draft202012Validator
from tests.unit.serve.conftest import Served
from tests.unit.serve.support import HOSTILE, alert, put

from newswatch.contracts import validate_record
from newswatch.serve.app import CSP


class _Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_the_page_lists_alerts_newest_first_with_their_details(served: Served) -> None:
    put(served.store, alert("al-old", 1, 0), alert("al-new", 2, 9, event_type="coup", countries=["GW"]))
    page = served.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.index("Withdrawal al-new") < html.index("Withdrawal al-old")
    assert "Guinea-Bissau (GW)" in html and "\U0001f1ec\U0001f1fc" in html  # name, code and flag
    assert "Coup" in html and "flash" in html
    assert "Source 2 reports soldiers left al-new." in html  # evidence
    assert "Outlet 1, Outlet 2" in html
    assert "first seen" in html and "last updated" in html and "12 min" in html  # freshness
    assert 'href="/alerts/al-new"' in html


def test_filters_and_pages_keep_the_filter(served: Served) -> None:
    put(
        served.store,
        *[alert(f"ml-{i}", minutes=i, countries=["ML"]) for i in range(5)],
        alert("ne", countries=["NE"]),
    )
    first = served.client.get("/?country=ml")
    assert (
        "ml-4" in first.text
        and "ml-2" in first.text
        and "ml-1" not in first.text
        and ">Withdrawal ne<" not in first.text
    )
    older = re.search(r'id="older" href="([^"]+)"', first.text)
    assert older is not None and "country=ML" in older.group(1)
    second = served.client.get(older.group(1).replace("&amp;", "&"))
    assert "ml-1" in second.text and "ml-0" in second.text and "ml-4" not in second.text
    assert 'value="ML"' in first.text  # the form shows the active filter


def test_a_bad_filter_is_a_400_page_not_a_crash(served: Served) -> None:
    response = served.client.get("/?event_type=<b>x</b>")
    assert response.status_code == 400 and "event_type" in response.text
    assert served.client.get("/?cursor=zzz").status_code == 400
    assert served.client.get("/api/v1/alerts?limit=0").status_code == 400


def test_an_alerts_page_shows_each_version_and_what_it_added(served: Served) -> None:
    put(served.store, alert("al-1", 1, 0), alert("al-1", 2, 5), alert("al-1", 3, 9))
    html = served.client.get("/alerts/al-1").text
    sections = re.findall(r'<section class="version[^"]*" data-version="(\d+)">(.*?)</section>', html, re.S)
    assert [v for v, _ in sections] == ["3", "2", "1"]
    newest = dict(sections)["3"]
    assert (
        "new outlets: Outlet 3" in newest
        and "Source 3 reports" in newest
        and "Source 1 reports" not in newest
    )
    assert "2022-08-15 13:09 UTC" in newest
    assert served.client.get("/alerts/nope").status_code == 404


def test_untrusted_text_is_escaped_and_links_are_safe(served: Served) -> None:
    hostile = alert(
        "al-x",
        headline=HOSTILE,
        evidence=[{"sentence": HOSTILE, "article_id": "a", "url": "javascript:alert(1)", "outlet": HOSTILE}],
        links=["javascript:alert(1)", "https://ok.example/a?b=1&c=<2>"],
        outlets=[HOSTILE],
    )
    put(served.store, hostile)
    for path in ("/", "/alerts/al-x"):
        html = served.client.get(path).text
        tags = _tags(html)
        assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object")], path
        assert not [a for _, a in tags if any(k.startswith("on") for k in a)], path
        links = [a for t, a in tags if t == "a" and (a.get("href") or "").startswith("http")]
        assert links and all(a.get("rel") == "noopener noreferrer" for a in links), path
        assert not [a for t, a in tags if t == "a" and "javascript" in (a.get("href") or "")], path
        assert "&lt;script&gt;" in html


def test_every_response_has_a_strict_csp_without_script(served: Served) -> None:
    for path in ("/", "/alerts/none", "/api/v1/alerts", "/alerts.atom", "/static/style.css", "/nowhere"):
        headers = served.client.get(path).headers
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff"
    assert "script-src" not in CSP and "default-src 'none'" in CSP and "unsafe" not in CSP
    html = served.client.get("/").text
    assert "<script" not in html and "style=" not in html  # nothing inline that the CSP would block


def test_the_api_returns_alert_v1_records_with_cursor_pages(served: Served) -> None:
    put(served.store, *[alert(f"al-{i}", 1, i) for i in range(7)], alert("al-6", 2, 20))
    got: list[str] = []
    url = "/api/v1/alerts?limit=3"
    while url:
        body = served.client.get(url).json()
        for record in body["alerts"]:
            validate_record("alert", record)
        got += [r["alert_id"] for r in body["alerts"]]
        url = f"/api/v1/alerts?limit=3&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert got == ["al-6", "al-5", "al-4", "al-3", "al-2", "al-1", "al-0"]
    one = served.client.get("/api/v1/alerts/al-6").json()
    assert one["alert"]["version"] == 2 and [v["version"] for v in one["versions"]] == [1, 2]
    assert served.client.get("/api/v1/alerts/none").status_code == 404
    assert served.client.get("/api/v1/alerts?event_type=coup").json() == {"alerts": [], "next_cursor": None}


def test_the_openapi_document_describes_the_api(served: Served) -> None:
    doc = served.client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/alerts", "/api/v1/alerts/{alert_id}"} <= set(doc["paths"])
    params = {p["name"] for p in doc["paths"]["/api/v1/alerts"]["get"]["parameters"]}
    assert params == {"event_type", "country", "severity", "since", "until", "limit", "cursor"}
    # the schema of a page validates a real page (refs resolved within the document)
    put(served.store, alert("al-1"))
    page_schema = {**doc["components"]["schemas"]["AlertPage"], "components": doc["components"]}
    page_schema = _rebase(page_schema)
    Draft202012Validator(page_schema).validate(served.client.get("/api/v1/alerts").json())


def _rebase(schema: dict[str, object]) -> dict[str, object]:
    """``#/components/schemas/X`` refs as ``#/$defs/X``, so a plain JSON Schema validator resolves them."""
    import json

    components = schema.pop("components")
    text = json.dumps(schema).replace("#/components/schemas/", "#/$defs/")
    out: dict[str, object] = json.loads(text)
    out["$defs"] = json.loads(json.dumps(components["schemas"]).replace("#/components/schemas/", "#/$defs/"))  # type: ignore[index]
    return out


def test_health_readiness_and_metrics(served: Served) -> None:
    assert served.client.get("/healthz").json() == {"status": "ok"}
    served.status.ready = False
    served.status.lag = {0: 5}
    not_ready = served.client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["lag"] == {"0": 5}
    assert "Still reading the alerts topic" in served.client.get("/").text
    served.status.ready = True
    assert served.client.get("/readyz").status_code == 200
    served.client.get("/alerts/x")
    text = served.client.get("/metrics").text
    assert 'newswatch_serve_http_requests_total{route="/readyz",status="503"} 1.0' in text
    assert 'newswatch_serve_http_requests_total{route="/alerts/{alert_id}",status="404"} 1.0' in text
    assert 'newswatch_serve_http_request_duration_seconds_count{route="/"}' in text
    served.client.get("/no/such/route")
    assert 'route="other",status="404"} 1.0' in served.client.get("/metrics").text
