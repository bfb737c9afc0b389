"""``newswatch train`` and ``newswatch eval`` keep their arguments; train's defaults are the shipped recipe
(the training itself is not run: it takes 20 minutes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from newswatch import cli
from newswatch.classifier import loader
from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR, Manifest, read_manifest
from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.scorer import Pair
from newswatch.tooling.training import train as train_module
from newswatch.tooling.training.train import TrainConfig

ROOT = Path(__file__).resolve().parents[3]


def _run_train(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> TrainConfig:
    """Run ``newswatch train ARGV`` from the repository root with training replaced by a recorder."""
    seen: list[TrainConfig] = []

    def record(config: TrainConfig) -> Manifest:
        seen.append(config)
        return read_manifest(DEFAULT_ARTEFACT_DIR)

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(train_module, "train", record)
    assert cli.main(["train", *argv]) == 0
    [config] = seen
    return config


def test_train_defaults_are_the_recipe_of_the_shipped_artefact(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _run_train([], monkeypatch)
    shipped = read_manifest(DEFAULT_ARTEFACT_DIR)
    record = shipped.training
    assert [p.name for p in config.data_files] == record.data_files
    assert (config.seed, config.epochs, config.learning_rate, config.max_length) == (
        record.seed,
        record.epochs,
        record.learning_rate,
        record.max_length,
    )
    assert config.base_model == shipped.base_model
    assert config.trained_layers == len(shipped.trained_layers)
    assert config.out_dir == DEFAULT_ARTEFACT_DIR
    assert config.validation_file == Path(".state/data/real/validation.jsonl")
    assert config.dev_file == Path("../shared/data/dev/events-dev.jsonl")
    assert config.seed_article == Path("../shared/seed/barkhane-leaves-mali-2022.txt")


def test_train_arguments_reach_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--train-file", "a.jsonl", "--train-file", "b.jsonl", "--written-dir", "none"]
    argv += ["--dev-file", "none", "--out", str(tmp_path), "--layers", "2", "--epochs", "1"]
    argv += ["--seed", "7", "--cache-dir", "c"]
    config = _run_train(argv, monkeypatch)
    assert config.data_files == [Path("a.jsonl"), Path("b.jsonl")]
    assert config.dev_file is None
    assert (config.out_dir, config.trained_layers, config.epochs, config.seed) == (tmp_path, 2, 1, 7)
    assert config.cache_dir == Path("c")


class TitleScorer:
    """Logit +4 on coup when the first text says "coup", -4 everywhere else."""

    def logits(self, pairs: Sequence[Pair]) -> npt.NDArray[np.float32]:
        out = np.full((len(pairs), 3), -4.0, dtype=np.float32)
        for i, (first, _) in enumerate(pairs):
            if "coup" in first.lower():
                out[i, 1] = 4.0
        return out


def test_eval_scores_the_served_classifier_on_a_labelled_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = read_manifest(DEFAULT_ARTEFACT_DIR)
    clf = EventClassifier(manifest, TitleScorer(), max_length=128, max_windows=0, max_evidence=1, screen=True)
    monkeypatch.setattr(loader, "load_classifier", lambda settings: clf)
    rows = [
        ("1", "Coup in Niger: soldiers seize power", (0, 1, 0)),
        ("2", "Army coup attempt fails in Bolivia", (0, 1, 0)),
        ("3", "Arsenal sign striker", (0, 0, 0)),
    ]
    data = tmp_path / "dev.jsonl"
    lines = []
    for id_, title, (w, c, p) in rows:
        labels = {"military_withdrawal": w, "coup": c, "peacekeeping_change": p}
        lines.append(json.dumps({"id": id_, "lang": "en", "title": title, "summary": "", "labels": labels}))
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert cli.main(["eval", "--data", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    coup = report["scored"]["all"]["labels"]["coup"]
    assert (coup["tp"], coup["fp"], coup["fn"]) == (2, 0, 0)
    assert report["scored"]["all"]["no_label_flagged"] == 0


def test_eval_of_a_malformed_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = read_manifest(DEFAULT_ARTEFACT_DIR)
    clf = EventClassifier(manifest, TitleScorer(), max_length=128, max_windows=0, max_evidence=1, screen=True)
    monkeypatch.setattr(loader, "load_classifier", lambda settings: clf)
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "1", "title": "x"}\n', encoding="utf-8")
    assert cli.main(["eval", "--data", str(data)]) == 2
    assert "bad.jsonl:1" in json.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
