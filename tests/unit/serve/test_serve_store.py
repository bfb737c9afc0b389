"""The SQLite read model: versions kept, latest wins, offsets with the data, filters, cursors, pruning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.unit.serve.support import T0, alert, put

from newswatch.serve.query import AlertFilter, QueryError, decode_cursor, encode_cursor, parse_filter
from newswatch.serve.readmodel import decode_records
from newswatch.serve.store import AlertStore, Delete, Upsert


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(tmp_path / "serve.sqlite3")


def test_every_version_is_kept_and_the_latest_is_listed(store: AlertStore) -> None:
    put(store, alert("al-1", 1, 0), alert("al-1", 2, 5), alert("al-2", 1, 3))
    listed = store.list_alerts(AlertFilter())
    assert [(s.alert.alert_id, s.alert.version, s.versions) for s in listed] == [
        ("al-1", 2, 2),
        ("al-2", 1, 1),
    ]
    assert [v.alert.version for v in store.versions("al-1")] == [1, 2]
    assert store.counts() == (2, 3)
    assert store.positions("t") == {0: 3}


def test_an_older_version_read_late_does_not_replace_the_latest(store: AlertStore) -> None:
    put(store, alert("al-1", 2, 5))
    put(store, alert("al-1", 1, 0), start=1)
    got = store.get("al-1")
    assert got is not None and got.alert.version == 2 and got.versions == 2


def test_rereading_the_same_records_changes_nothing(store: AlertStore) -> None:
    records = (alert("al-1", 1, 0), alert("al-1", 2, 5))
    put(store, *records)
    put(store, *records)
    assert store.counts() == (1, 2)


def test_the_store_survives_reopening(tmp_path: Path) -> None:
    first = AlertStore(tmp_path / "s.sqlite3")
    put(first, alert("al-1", 1, 0), partition=2, start=40)
    first.close()
    again = AlertStore(tmp_path / "s.sqlite3")
    assert again.positions("t") == {2: 41}
    assert again.get("al-1") is not None


def test_a_failed_batch_leaves_neither_data_nor_offsets(store: AlertStore) -> None:
    good = Upsert(alert("al-1"), alert("al-1").model_dump_json(), 0, 0)
    bad = Upsert(alert("al-2"), None, 0, 1)  # type: ignore[arg-type]  # NOT NULL violation mid-batch
    with pytest.raises(Exception, match="NOT NULL"):
        store.apply("t", [good, bad], {0: 2})
    assert store.counts() == (0, 0)
    assert store.positions("t") == {}


def test_a_tombstone_removes_the_alert_and_its_history(store: AlertStore) -> None:
    put(store, alert("al-1", 1), alert("al-1", 2, 1), alert("al-2", 1))
    store.apply("t", [Delete("al-1")], {0: 4})
    assert store.get("al-1") is None and store.versions("al-1") == []
    assert store.counts() == (1, 1)
    assert store.list_alerts(AlertFilter(country="ML"))[0].alert.alert_id == "al-2"


def test_filters_combine(store: AlertStore) -> None:
    put(
        store,
        alert("a", minutes=1, event_type="coup", countries=["ML"], severity="flash"),
        alert("b", minutes=2, event_type="coup", countries=["NE"], severity="urgent"),
        alert("c", minutes=3, countries=["ML", "FR"], severity="routine"),
        alert("d", minutes=60 * 48, event_type="coup", countries=["ML"], severity="flash"),
    )

    def ids(**kw: object) -> list[str]:
        return [s.alert.alert_id for s in store.list_alerts(AlertFilter(**kw))]  # type: ignore[arg-type]

    assert ids() == ["d", "c", "b", "a"]
    assert ids(event_type="coup") == ["d", "b", "a"]
    assert ids(country="ML") == ["d", "c", "a"]
    assert ids(country="ML", event_type="coup", severity="flash") == ["d", "a"]
    assert ids(since=T0 + timedelta(minutes=2)) == ["d", "c", "b"]
    assert ids(until=T0 + timedelta(minutes=3)) == ["b", "a"]
    assert ids(country="GW") == []


def test_a_country_change_between_versions_moves_the_alert(store: AlertStore) -> None:
    put(store, alert("a", 1, countries=["ML"]), alert("a", 2, 1, countries=["NE"]))
    assert store.list_alerts(AlertFilter(country="ML")) == []
    assert [s.alert.alert_id for s in store.list_alerts(AlertFilter(country="NE"))] == ["a"]


def test_cursor_pages_cover_everything_once_even_with_equal_times(store: AlertStore) -> None:
    put(store, *[alert(f"al-{i:02}", minutes=i // 3) for i in range(20)])
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_alerts(AlertFilter(), cursor=cursor, limit=6)
        seen += [s.alert.alert_id for s in page]
        if len(page) < 6:
            break
        token = encode_cursor(page[-1].alert.last_updated, page[-1].alert.alert_id)
        cursor = decode_cursor(token)
    assert sorted(seen) == sorted(f"al-{i:02}" for i in range(20)) and len(seen) == 20


def test_prune_drops_what_the_topic_no_longer_holds(store: AlertStore) -> None:
    put(store, alert("old", 1, 0), alert("new", 1, 60 * 24 * 400), partition=0, start=0)
    put(store, alert("gone", 1, 60 * 24 * 400), partition=1, start=0)
    removed = store.prune(older_than=T0 + timedelta(days=10), beginnings={0: 0, 1: 1})
    assert removed == 2
    assert [s.alert.alert_id for s in store.list_alerts(AlertFilter())] == ["new"]


def test_prune_trims_old_versions_of_a_living_alert(store: AlertStore) -> None:
    put(store, alert("a", 1, 0), alert("a", 2, 60 * 24 * 30))
    store.prune(older_than=T0 + timedelta(days=1), beginnings={0: 0})
    assert [v.alert.version for v in store.versions("a")] == [2]


def test_reset_partition_forgets_only_that_partition(store: AlertStore) -> None:
    put(store, alert("p0"), partition=0)
    put(store, alert("p1"), partition=1)
    store.reset_partition("t", 1)
    assert store.get("p1") is None and store.get("p0") is not None
    assert store.positions("t") == {0: 1}


class _Rec:
    def __init__(self, partition: int, offset: int, value: bytes | None) -> None:
        self.partition, self.offset, self.value = partition, offset, value


def test_decode_records_skips_poison_and_advances_past_it() -> None:
    good = alert("a").model_dump_json().encode()
    records = [
        _Rec(0, 5, b"not json"),
        _Rec(0, 6, b'{"alert_id": "x"}'),
        _Rec(0, 7, good),
        _Rec(1, 0, None),
        _Rec(1, 1, b"\xff\xfe"),
    ]
    out = decode_records(records, {(1, 0): "gone"})
    assert [type(op).__name__ for op in out.ops] == ["Upsert", "Delete"]
    assert out.positions == {0: 8, 1: 2}
    assert [reason for _, _, reason, _ in out.skipped] == ["decode_error", "schema_invalid", "decode_error"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"event_type": "riot"}, "event_type"),
        ({"country": "Mali"}, "country"),
        ({"severity": "huge"}, "severity"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_bad_filters_are_query_errors(params: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_filter(params)


def test_filter_parsing_normalises() -> None:
    flt = parse_filter({"country": "ml", "severity": "FLASH", "since": "24h", "event_type": ""}, now=T0)
    assert (flt.country, flt.severity, flt.event_type) == ("ML", "flash", None)
    assert flt.since == T0 - timedelta(hours=24)
    assert parse_filter({"since": "2022-08-15"}).since == T0.replace(hour=0)


@pytest.mark.parametrize("token", ["", "!!!", "bm90IGEgY3Vyc29y", encode_cursor(T0, "x")[:-3]])
def test_forged_cursors_are_query_errors(token: str) -> None:
    with pytest.raises(QueryError):
        decode_cursor(token)
