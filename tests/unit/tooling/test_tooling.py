"""Corpus tooling: items read from a source's git objects at its pinned commit, pointers rebuilt into texts,
two annotations merged with a third's decisions, agreement, and a stratified validation split."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
from pathlib import Path

import pytest

from newswatch.tooling import corpus
from newswatch.tooling.corpus import SOURCES, CorpusError, iter_source
from newswatch.tooling.labelset import Annotation, agreement, merge, rebuild, split
from newswatch.tooling.selection import REPLAY_FROM, Quota, matches, select, select_near_misses


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def rsstrends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A two-day rssTrends-shaped repository, pinned as the source's commit."""
    repo = tmp_path / "rssTrends"
    (repo / "data" / "01-09-2024").mkdir(parents=True)
    (repo / "data" / "02-09-2024").mkdir(parents=True)
    day1 = [
        {"title": "Les derniers soldats français ont quitté le Niger",
         "summary": "<p>Le retrait est achevé.</p>",
         "link": "https://www.lemonde.fr/afrique/article/2024/09/01/a.html", "news_id": 0},
        {"title": "Football : le PSG l'emporte", "summary": "Un coup de théâtre.",
         "link": "https://www.lequipe.fr/b.html", "news_id": 1},
    ]  # fmt: skip
    day2 = [{"title": "Coup d'État au Gabon", "summary": "Des militaires ont pris le pouvoir.",
             "link": "https://www.la-croix.com/c.html", "news_id": 0}]  # fmt: skip
    (repo / "data" / "01-09-2024" / "news.json").write_text(json.dumps(day1), encoding="utf-8")
    (repo / "data" / "02-09-2024" / "news.json").write_text(json.dumps(day2), encoding="utf-8")
    _git(repo.parent, "init", "-q", str(repo))
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "days")
    commit = _git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.setitem(SOURCES, "rsstrends", dataclasses.replace(SOURCES["rsstrends"], commit=commit))
    return repo


def test_items_are_read_from_the_pinned_commit(rsstrends: Path) -> None:
    items = list(iter_source("rsstrends", rsstrends))
    assert [i.title for i in items] == [
        "Les derniers soldats français ont quitté le Niger",
        "Football : le PSG l'emporte",
        "Coup d'État au Gabon",
    ]
    first = items[0]
    assert first.summary == "Le retrait est achevé."  # markup dropped
    assert (first.lang, first.outlet, first.published) == ("fr", "lemonde.fr", "2024-09-01")
    assert first.id.startswith("rsstrends:")
    assert first.id == next(iter(iter_source("rsstrends", rsstrends))).id  # stable across reads
    # A later commit does not change what the pinned commit holds.
    (rsstrends / "data" / "01-09-2024" / "news.json").write_text("[]", encoding="utf-8")
    _git(rsstrends, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "emptied")
    assert len(list(iter_source("rsstrends", rsstrends))) == 3


def test_rebuild_joins_pointers_with_their_texts(rsstrends: Path, tmp_path: Path) -> None:
    items = list(iter_source("rsstrends", rsstrends))
    labels = {"military_withdrawal": 1, "coup": 0, "peacekeeping_change": 0}
    pointers = tmp_path / "labels" / "train.jsonl"
    pointers.parent.mkdir()
    pointers.write_text(json.dumps({**items[0].pointer(), "labels": labels, "ambiguous": False}) + "\n")
    written = rebuild([pointers], {"rsstrends": rsstrends}, tmp_path / "out")
    assert written == {"train.jsonl": 1}
    [row] = [json.loads(x) for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert row["title"] == items[0].title and row["summary"] == items[0].summary
    assert row["labels"] == labels and row["source_dataset"] == "rsstrends"


def test_rebuild_names_what_is_missing(rsstrends: Path, tmp_path: Path) -> None:
    item = next(iter_source("rsstrends", rsstrends))
    pointers = tmp_path / "train.jsonl"
    pointers.write_text(json.dumps({**item.pointer(), "id": "rsstrends:0000000000000000"}) + "\n")
    with pytest.raises(CorpusError, match="no item rsstrends:0000000000000000"):
        rebuild([pointers], {"rsstrends": rsstrends}, tmp_path / "out")
    with pytest.raises(CorpusError, match="no clone given for rsstrends"):
        rebuild([pointers], {}, tmp_path / "out")
    with pytest.raises(CorpusError, match=r"has no data/09-09-2024/news\.json"):
        list(iter_source("rsstrends", rsstrends, ["data/09-09-2024/news.json"]))


def test_selection_queries_and_exclusions(rsstrends: Path) -> None:
    items = list(iter_source("rsstrends", rsstrends))
    assert matches(items[0]) >= {"withdrawal", "military"}
    assert "coup" not in matches(items[1])  # "coup de théâtre" is no coup query
    assert "coup" in matches(items[2])
    replay = dataclasses.replace(items[2], id="rsstrends:r", title="Putsch", published=REPLAY_FROM)
    held_out = dataclasses.replace(
        items[1], id="rsstrends:h", url="https://www.lemonde.fr/x/2022/05/01/y.html"
    )
    chosen = select([*items, replay, held_out], Quota("rsstrends", 10, 10, 10), random.Random(1))
    assert {r["id"] for r in chosen} == {i.id for i in items}
    assert {r["id"]: r["query"] for r in chosen}[items[1].id] == "random"


def test_near_miss_round_takes_only_unchosen_items_without_an_event_query(rsstrends: Path) -> None:
    items = list(iter_source("rsstrends", rsstrends))
    deployment = dataclasses.replace(
        items[1], id="rsstrends:d", title="L'armée déploie des renforts à la frontière", summary=""
    )
    protest = dataclasses.replace(
        items[1], id="rsstrends:p", title="Des manifestants devant le siège de l'ONU", summary=""
    )
    chosen_before = dataclasses.replace(deployment, id="rsstrends:e", title="Les soldats défilent")
    sport = items[1]  # no military word and no near-miss query
    pool = [*items, deployment, protest, chosen_before]
    chosen = select_near_misses(pool, Quota("rsstrends", 0, 10, 10), {"rsstrends:e"}, random.Random(1))
    # the withdrawal (item 0) and the coup (item 2) match event queries: earlier rounds' strata, not this one
    assert {r["id"]: r["query"] for r in chosen} == {"rsstrends:d": "military-2", "rsstrends:p": "near-miss"}
    assert sport.id not in {r["id"] for r in chosen}


def test_committed_label_files_keep_validation_apart_and_the_replay_year_out() -> None:
    root = Path(__file__).resolve().parents[3] / "data" / "real"
    splits = {
        name: [json.loads(line) for line in (root / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        for name in ("train", "validation")
    }
    train_ids = {r["id"] for r in splits["train"]}
    validation_ids = {r["id"] for r in splits["validation"]}
    assert not train_ids & validation_ids
    assert len(train_ids) == len(splits["train"]) and len(validation_ids) == len(splits["validation"])
    for row in splits["train"] + splits["validation"]:
        if row["source"] == "rsstrends":
            assert row["published"] < REPLAY_FROM, row["id"]
        assert not (row.get("url") and "lemonde.fr" in row["url"] and "/2022/" in row["url"]), row["id"]
    # every round-3 item is in one of the two splits
    selection = (root / "annotations" / "round3-selection.jsonl").read_text(encoding="utf-8")
    round3 = [json.loads(line) for line in selection.splitlines()]
    assert {r["id"] for r in round3} <= train_ids | validation_ids


def _ann(item_id: str, labels: tuple[int, int, int], ambiguous: bool = False) -> Annotation:
    return Annotation(item_id, labels, ambiguous, "")


def test_merge_takes_agreement_or_the_third_decision() -> None:
    a = {"x": _ann("x", (1, 0, 0)), "y": _ann("y", (0, 1, 0), ambiguous=True), "z": _ann("z", (0, 0, 0))}
    b = {"x": _ann("x", (1, 0, 0)), "y": _ann("y", (0, 1, 0)), "z": _ann("z", (0, 1, 0))}
    with pytest.raises(CorpusError, match="z: the annotators disagree"):
        merge(a, b, {})
    decided = merge(a, b, {"z": _ann("z", (0, 0, 0), ambiguous=True)})
    assert decided["x"]["labels"] == (1, 0, 0) and decided["x"]["decided_by"] == "agreement"
    assert decided["y"]["ambiguous"] is True
    assert decided["z"] == {"labels": (0, 0, 0), "ambiguous": True, "note": "", "decided_by": "third"}


def test_agreement_reports_kappa_per_label() -> None:
    a = {str(i): _ann(str(i), (int(i < 5), 0, 0)) for i in range(20)}
    b = {str(i): _ann(str(i), (int(i < 4), 0, int(i == 0))) for i in range(20)}
    report = agreement(a, b)
    withdrawal = report["military_withdrawal"]
    assert (withdrawal["items"], withdrawal["both_yes"], withdrawal["either_yes"]) == (20, 4, 5)
    assert withdrawal["agreement"] == 0.95
    assert 0.8 < withdrawal["kappa"] < 0.9  # 1 disagreement over 5 positives
    assert report["coup"]["kappa"] == 1.0  # all-no on both sides is full agreement
    assert report["peacekeeping_change"]["agreement"] == 0.95


def test_split_is_stratified_and_reproducible() -> None:
    rows = []
    for n in range(400):
        lang = "fr" if n % 2 else "en"
        labels = {"military_withdrawal": int(n % 10 == 0), "coup": int(n % 10 == 1), "peacekeeping_change": 0}
        rows.append({"id": f"i{n}", "lang": lang, "labels": labels})
    validation, train = split(rows, 100, seed=3)
    assert len(validation) == 100 and len(train) == 300
    assert {r["id"] for r in validation}.isdisjoint(r["id"] for r in train)
    val_pos = sum(r["labels"]["military_withdrawal"] for r in validation)
    assert val_pos == 10  # a quarter of the 40 withdrawal positives
    assert [r["id"] for r in split(rows, 100, seed=3)[0]] == [r["id"] for r in validation]


def test_lede_cuts_at_sentence_ends() -> None:
    text = "Première phrase du texte. Deuxième phrase bien plus longue que la première." + " Suite." * 80
    lede = corpus._lede(text, limit=80)
    assert lede == "Première phrase du texte. Deuxième phrase bien plus longue que la première."
