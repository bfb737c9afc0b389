"""Alert matching and merging: one alert per real-world event, idempotent under re-delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from worker_fakes import KeywordClassifier, make_article

from newswatch.contracts import Alert, Candidate, validate_record
from newswatch.worker import alerts as alerts_module
from newswatch.worker.alerts import AlertBook, alert_id_for, candidates_from
from newswatch.worker.errors import AlertStateError
from newswatch.worker.matching import match_score, terms_of
from newswatch.worker.settings import AlertPolicy

T0 = datetime(2022, 8, 15, 13, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)

BARKHANE = [
    ("afp-1", "AFP", "France says last Barkhane soldiers have left Mali", ("FR", "ML")),
    ("rfi-1", "RFI", "Les derniers soldats de Barkhane ont quitté le Mali", ("ML", "FR")),
    ("dw-1", "DW", "French army confirms its last troops left Mali for Niger", ("FR", "ML", "NE")),
    ("bbc-1", "BBC", "Last French soldiers of Barkhane leave Mali", ("FR", "ML")),
    ("aj-1", "Al Jazeera", "France completes Mali withdrawal as Barkhane troops leave", ("ML",)),
]


def candidate(article_id: str = "a1", **fields: Any) -> Candidate:
    data: dict[str, Any] = {
        "event_type": "military_withdrawal",
        "probability": 0.95,
        "article_id": article_id,
        "url": f"https://news.example/{article_id}",
        "title": "France says last Barkhane soldiers have left Mali",
        "outlet": "Example",
        "countries": ("FR", "ML"),
        "evidence": (),
        "published_at": T0,
        "fetched_at": T0 + timedelta(minutes=2),
        "classified_at": T0 + timedelta(minutes=3),
        "model_version": "m1",
    }
    data.update(fields)
    return Candidate.model_validate(data)


def barkhane(i: int) -> Candidate:
    article_id, outlet, title, countries = BARKHANE[i]
    return candidate(
        article_id,
        outlet=outlet,
        title=title,
        countries=countries,
        evidence=(title,),
        published_at=T0 + timedelta(minutes=10 * i),
        fetched_at=T0 + timedelta(minutes=10 * i + 1),
        classified_at=T0 + timedelta(minutes=10 * i + 2),
    )


@pytest.fixture
def store() -> dict[str, str]:
    return {}


@pytest.fixture
def book(store: dict[str, str]) -> AlertBook:
    return AlertBook(store, AlertPolicy())


def emit(book: AlertBook, cand: Candidate, now: datetime = NOW) -> Alert | None:
    decision = book.apply(cand, now=now)
    if decision.alert is not None:
        validate_record("alert", decision.alert.model_dump(mode="json"))
        book.mark_emitted(decision.alert)
    return decision.alert


def test_first_candidate_opens_a_new_alert_with_a_deterministic_id(book: AlertBook) -> None:
    decision = book.apply(barkhane(0), now=NOW)
    assert decision.outcome == "opened"
    alert = decision.alert
    assert alert is not None
    assert alert.alert_id == alert_id_for("military_withdrawal", "military_withdrawal", "afp-1")
    assert (alert.status, alert.version, alert.source_count) == ("new", 1, 1)
    assert alert.headline == BARKHANE[0][2]
    assert alert.evidence[0].sentence == BARKHANE[0][2]
    assert alert.countries == ("FR", "ML")
    assert alert.outlets == ("AFP",)
    assert alert.links == ("https://news.example/afp-1",)
    assert alert.first_seen == T0 + timedelta(minutes=1)
    assert alert.published_at == T0
    assert alert.freshness_minutes == pytest.approx(2.0)
    assert alert.severity == "urgent"


def test_five_outlets_reporting_one_event_yield_one_alert_and_four_updates(book: AlertBook) -> None:
    alerts = [emit(book, barkhane(i)) for i in range(5)]
    assert all(a is not None for a in alerts)
    ids = {a.alert_id for a in alerts if a}
    assert len(ids) == 1
    assert [(a.status, a.version, a.source_count) for a in alerts if a] == [
        ("new", 1, 1),
        ("update", 2, 2),
        ("update", 3, 3),
        ("update", 4, 4),
        ("update", 5, 5),
    ]
    last = alerts[-1]
    assert last is not None
    assert last.outlets == ("AFP", "RFI", "DW", "BBC", "Al Jazeera")
    assert set(last.countries) == {"FR", "ML", "NE"}
    assert last.severity == "flash"
    assert last.first_seen == T0 + timedelta(minutes=1)
    assert last.last_updated == T0 + timedelta(minutes=42)
    assert last.headline == BARKHANE[0][2]
    assert len(last.links) == len(last.article_ids) == 5


def test_redelivered_article_never_adds_a_source_twice(book: AlertBook) -> None:
    emit(book, barkhane(0))
    emit(book, barkhane(1))
    again = book.apply(barkhane(1).model_copy(update={"classified_at": NOW}), now=NOW)
    assert again.outcome == "duplicate"
    assert again.alert is None
    current = book.get(again.alert_id)
    assert current is not None and current.source_count == 2


def test_same_url_under_another_article_id_is_not_a_new_source(book: AlertBook) -> None:
    emit(book, barkhane(0))
    decision = book.apply(barkhane(1).model_copy(update={"url": "https://news.example/afp-1"}), now=NOW)
    assert decision.outcome == "duplicate"


def test_state_ahead_of_the_acknowledged_version_is_resent_identically(book: AlertBook) -> None:
    emit(book, barkhane(0))
    first = book.apply(barkhane(1), now=NOW)  # crash: state written, alert never acknowledged
    assert first.alert is not None
    replay = book.apply(barkhane(1), now=NOW + timedelta(minutes=5))
    assert replay.outcome == "resend"
    assert replay.alert == first.alert
    book.mark_emitted(replay.alert)
    assert book.apply(barkhane(1), now=NOW).outcome == "duplicate"


def test_state_survives_a_new_book_over_the_same_store(store: dict[str, str]) -> None:
    emit(AlertBook(store, AlertPolicy()), barkhane(0))
    restarted = AlertBook(dict(store), AlertPolicy())
    decision = restarted.apply(barkhane(1), now=NOW)
    assert (decision.outcome, decision.alert and decision.alert.version) == ("updated", 2)


def test_disjoint_countries_are_different_events(book: AlertBook) -> None:
    emit(book, barkhane(0))
    other = emit(
        book, candidate("kherson", title="Russia announces withdrawal from Kherson", countries=("RU", "UA"))
    )
    assert other is not None and other.status == "new"
    assert len(book.open_alert_ids("military_withdrawal")) == 2


def test_another_army_leaving_the_same_country_is_a_different_event(book: AlertBook) -> None:
    emit(book, barkhane(0))
    danes = emit(
        book,
        candidate(
            "dk-1",
            title="Denmark will withdraw its special forces from Mali",
            evidence=("Denmark will withdraw its special forces from Mali",),
            countries=("DK", "ML"),
        ),
    )
    assert danes is not None and danes.status == "new"


def test_reports_outside_the_time_window_open_a_new_alert(book: AlertBook) -> None:
    emit(book, barkhane(2))  # "French army confirms its last troops left Mali for Niger": no named operation
    late = barkhane(2).model_copy(
        update={
            "article_id": "dw-2",
            "url": "https://news.example/dw-2",
            "published_at": T0 + timedelta(hours=49),
        }
    )
    alert = emit(book, late, now=NOW + timedelta(days=3))
    assert alert is not None and alert.status == "new"


def test_reports_naming_the_same_operation_match_up_to_the_entity_window(book: AlertBook) -> None:
    policy = AlertPolicy()
    emit(book, barkhane(0))  # "France says last Barkhane soldiers have left Mali"
    days_later = barkhane(1).model_copy(update={"published_at": T0 + timedelta(days=5)})
    joined = emit(book, days_later, now=NOW + timedelta(days=5))
    assert joined is not None and (joined.status, joined.source_count) == ("update", 2)
    too_late = barkhane(3).model_copy(
        update={"published_at": T0 + timedelta(days=5, hours=policy.entity_window_hours + 1)}
    )
    alert = emit(book, too_late, now=NOW + timedelta(days=6))  # the first alert is still open
    assert alert is not None and alert.status == "new"
    assert book.get(joined.alert_id) is not None


def test_event_types_never_share_an_alert(book: AlertBook) -> None:
    emit(book, barkhane(0))
    pk = emit(book, barkhane(1).model_copy(update={"event_type": "peacekeeping_change"}))
    assert pk is not None and pk.status == "new"


def test_closed_alerts_are_pruned_after_retention(book: AlertBook, store: dict[str, str]) -> None:
    first = emit(book, barkhane(0))
    assert first is not None
    later = NOW + timedelta(hours=AlertPolicy().retention_hours + 1)
    emit(book, candidate("x9", title="Russia leaves Kherson", countries=("RU", "UA")), now=later)
    assert book.get(first.alert_id) is None
    assert "s|military_withdrawal|afp-1" not in store
    assert len(book.open_alert_ids("military_withdrawal")) == 1


def test_open_alerts_per_group_are_capped(store: dict[str, str]) -> None:
    book = AlertBook(store, AlertPolicy(max_open_alerts_per_group=2))
    for i, country in enumerate(("RU", "US", "GB")):
        emit(book, candidate(f"c{i}", title=f"{country} troops", countries=(country,)))
    assert len(book.open_alert_ids("military_withdrawal")) == 2


def test_corrupt_state_raises_alert_state_error(book: AlertBook, store: dict[str, str]) -> None:
    store["g|military_withdrawal"] = "{not json"
    with pytest.raises(AlertStateError):
        book.apply(barkhane(0), now=NOW)


def test_evidence_is_capped_and_deduplicated(store: dict[str, str]) -> None:
    book = AlertBook(store, AlertPolicy(max_evidence=3))
    alerts = [emit(book, barkhane(i)) for i in range(5)]
    last = alerts[-1]
    assert last is not None
    assert len(last.evidence) == 3
    assert len({e.sentence for e in last.evidence}) == 3


def test_match_score_requires_country_overlap_and_rewards_similar_text() -> None:
    same = terms_of(["Last Barkhane soldiers leave Mali"])
    assert match_score(["FR"], same, ["ML"], same) is None
    high = match_score(["FR", "ML"], same, ["FR", "ML"], same)
    low = match_score(["DK", "ML"], terms_of(["Denmark special forces"]), ["FR", "ML"], same)
    assert high is not None and low is not None and high > low
    assert match_score([], same, ["ML"], same) == pytest.approx(0.75)


def test_terms_fold_accents_and_drop_stop_words() -> None:
    assert terms_of(["Les soldats ont quitté le Mali"]) == {"~troops", "~withdraw", "@ML"}


def test_candidates_from_a_classification(classifier: KeywordClassifier) -> None:
    article = make_article("seed", "France leaves Mali and MINUSMA")
    result = classifier.classify([article])[0]
    cands = candidates_from(result)
    assert [c.event_type for c in cands] == ["military_withdrawal", "peacekeeping_change"]
    assert all(c.countries == ("ML", "FR") and c.evidence == (article.title,) for c in cands)
    first = cands[0]
    assert (first.article_id, first.url, first.title, first.outlet) == (
        article.id,
        article.url,
        article.title,
        article.outlet,
    )
    assert (first.published_at, first.fetched_at, first.classified_at) == (
        article.published_at,
        article.fetched_at,
        result.classified_at,
    )
    assert candidates_from(classifier.classify([make_article("x", "Weather")])[0]) == []


def test_candidates_need_the_article_fields_of_the_classification(classifier: KeywordClassifier) -> None:
    result = classifier.classify([make_article("seed", "France leaves Mali")])[0]
    with pytest.raises(ValueError, match="lacks its article's fields"):
        candidates_from(result.model_copy(update={"url": None}))


def _one_event_source(i: int) -> Candidate:
    """Another outlet's report of the Barkhane withdrawal (distinct article, URL and outlet)."""
    return barkhane(0).model_copy(
        update={"article_id": f"src-{i:05d}", "url": f"https://o{i}.example/{i}", "outlet": f"Outlet {i}"}
    )


def test_keys_of_a_duplicate_url_are_pruned_with_the_alert(book: AlertBook, store: dict[str, str]) -> None:
    first = emit(book, barkhane(0))
    assert first is not None
    same_url = barkhane(1).model_copy(update={"url": "https://news.example/afp-1"})
    assert book.apply(same_url, now=NOW).outcome == "duplicate"
    assert book.apply(same_url, now=NOW).outcome == "duplicate"  # and still one when re-delivered
    later = NOW + timedelta(hours=AlertPolicy().retention_hours + 1)
    other = emit(book, candidate("x9", title="Russia leaves Kherson", countries=("RU", "UA")), now=later)
    assert other is not None
    left = {
        k for k in store if other.alert_id not in store[k] and not k.startswith(("g|", f"a|{other.alert_id}"))
    }
    assert left == set(), f"keys of the closed alert left behind: {left}"


def test_an_alert_record_does_not_grow_with_its_sources(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts_module, "_IDS_PER_CHUNK", 40)  # a chunk every 40 sources: 300 make 7
    book = AlertBook(store, AlertPolicy(max_links=20, max_outlets=20))
    sizes = {}
    for i in range(300):
        alert = emit(book, _one_event_source(i))
        assert alert is not None
        sizes[i + 1] = len(store[f"a|{alert.alert_id}"])
    assert (alert.source_count, len(alert.outlets), len(alert.links), len(alert.article_ids)) == (
        300,
        20,
        20,
        20,
    )
    assert alert.severity == "flash"
    assert sizes[300] - sizes[100] < 200, (
        f"the alert record grows with its sources: {sizes[100]} -> {sizes[300]}"
    )
    assert max(len(v) for v in store.values()) < 16_000
    later = NOW + timedelta(hours=AlertPolicy().retention_hours + 1)
    other = emit(book, candidate("x9", title="Russia leaves Kherson", countries=("RU", "UA")), now=later)
    assert other is not None
    assert sorted(store) == sorted(
        ["g|military_withdrawal", f"a|{other.alert_id}", "s|military_withdrawal|x9"]
    )


def test_state_written_before_id_chunks_is_still_read_and_pruned(store: dict[str, str]) -> None:
    book = AlertBook(store, AlertPolicy())
    first = emit(book, barkhane(0))
    assert first is not None
    raw = json.loads(store[f"a|{first.alert_id}"])
    del raw["sealed_chunks"]  # as the previous version wrote it
    store[f"a|{first.alert_id}"] = json.dumps(raw)
    assert (emit(book, barkhane(1)) or first).version == 2
    later = NOW + timedelta(hours=AlertPolicy().retention_hours + 1)
    emit(book, candidate("x9", title="Russia leaves Kherson", countries=("RU", "UA")), now=later)
    assert not any(k.startswith(("s|military_withdrawal|afp", "s|military_withdrawal|rfi")) for k in store)


def test_a_coup_naming_no_country_opens_no_alert_unless_the_model_is_sure(book: AlertBook) -> None:
    placeless = candidate(
        "fr-politics",
        event_type="coup",
        title="Gouvernement renversé : la présidente de l'Assemblée se dit disponible",
        countries=(),
        probability=0.72,
    )
    decision = book.apply(placeless, now=NOW)
    assert (decision.outcome, decision.alert) == ("held", None)
    assert book.open_alert_ids("coup") == ()
    sure = placeless.model_copy(
        update={"article_id": "sure", "url": "https://news.example/sure", "probability": 0.95}
    )
    assert book.apply(sure, now=NOW).outcome == "opened"
    # a placeless withdrawal or peacekeeping change still opens one (the UN cutting peacekeepers everywhere)
    cut = candidate("un-cut", event_type="peacekeeping_change", countries=(), probability=0.7)
    assert book.apply(cut, now=NOW).outcome == "opened"


def test_a_placeless_coup_report_still_joins_an_open_coup_alert(book: AlertBook) -> None:
    niger = candidate(
        "ne-1", event_type="coup", title="Niger: soldiers detain President Bazoum", countries=("NE",)
    )
    opened = book.apply(niger, now=NOW)
    follow = candidate(
        "x-1",
        event_type="coup",
        title="Soldiers detain President Bazoum in Niamey, junta says",
        countries=(),
        probability=0.7,
        published_at=T0 + timedelta(hours=2),
    )
    joined = book.apply(follow, now=NOW + timedelta(hours=2))
    assert (joined.outcome, joined.alert_id) == ("updated", opened.alert_id)
