"""Classifier benchmark: articles/s at batch 1, 8 and 32, single-article p99 latency and resident memory,
for the shipped classifier (lexical screen + fine-tuned encoder + windows + evidence + countries) against
plain PyTorch fp32 of the same encoder (title + summary, dynamic padding, no screen) in the same run.

The "realistic mix" is what a monitor sees: mostly irrelevant news. By default 80% of the articles are items
that do not concern armed forces (the feed-rs fixture entries and the training-file items without any trigger
word) and 20% are conflict-related items (training-file items that pass the screen). Inputs: title + summary.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/classifier_bench.py                  # 384 articles, 1 thread
    HF_HUB_OFFLINE=1 .venv/bin/python bench/classifier_bench.py --threads 2
    HF_HUB_OFFLINE=1 .venv/bin/python bench/classifier_bench.py --relevant 1.0   # only conflict news
    HF_HUB_OFFLINE=1 .venv/bin/python bench/classifier_bench.py --json out.json

Targets (issue 3): >= 150 articles/s at batch 32 on the mix, p99 single article <= 50 ms, RSS <= 800 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _articles(n: int, relevant: float, seed: int) -> tuple[list[Any], float]:
    import feedparser

    from newswatch.classifier.screen import passes_screen
    from newswatch.contracts.models import Article

    irrelevant: list[tuple[str, str]] = []
    for path in sorted((SHARED / "data" / "feeds" / "feed-rs").rglob("*")):
        if path.is_file():
            for entry in feedparser.parse(path.read_bytes()).entries:
                title, summary = str(entry.get("title", "")), str(entry.get("summary", ""))
                if (title or summary) and not passes_screen(f"{title}\n{summary}"):
                    irrelevant.append((title, summary))
    related: list[tuple[str, str]] = []
    for line in (
        (SHARED / "data" / "train" / "events-train-en.jsonl").read_text(encoding="utf-8").splitlines()
    ):
        item = json.loads(line)
        pair = (item["title"], item["summary"])
        (related if passes_screen(f"{pair[0]}\n{pair[1]}") else irrelevant).append(pair)
    rng = random.Random(seed)
    n_related = round(n * relevant)
    chosen = [rng.choice(related) for _ in range(n_related)] + [
        rng.choice(irrelevant) for _ in range(n - n_related)
    ]
    rng.shuffle(chosen)
    now = datetime.now(UTC)
    articles = [
        Article(
            id=f"b{i}",
            url=f"https://bench.invalid/{i}",
            title=t[:2000],
            summary=s[:20000],
            published_at=now,
            language="en",
            feed_url="https://bench.invalid/feed",
            fetched_at=now,
        )
        for i, (t, s) in enumerate(chosen)
    ]
    screened = sum(1 for a in articles if passes_screen(f"{a.title}\n{a.summary}")) / max(1, len(articles))
    return articles, screened


def _plain_encoder(max_length: int) -> Callable[[Sequence[Any]], None]:
    """Plain PyTorch fp32 forward of the same base encoder on title + summary (the baseline)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR, read_manifest
    from newswatch.classifier.model import resolve_base

    base = resolve_base(read_manifest(DEFAULT_ARTEFACT_DIR).base_model, None)
    tokenizer = AutoTokenizer.from_pretrained(base.path, local_files_only=True)
    model = AutoModel.from_pretrained(base.path, local_files_only=True).eval()

    def run(batch: Sequence[Any]) -> None:
        enc = tokenizer(
            [a.title for a in batch],
            [a.summary for a in batch],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            model(**enc)

    return run


def _throughput(run: Callable[[Sequence[Any]], Any], articles: Sequence[Any], batch: int) -> dict[str, float]:
    run(articles[: min(batch, len(articles))])  # warm-up
    latencies: list[float] = []
    started = time.perf_counter()
    for start in range(0, len(articles), batch):
        t0 = time.perf_counter()
        run(articles[start : start + batch])
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    result = {"batch": batch, "articles_per_s": round(len(articles) / elapsed, 1)}
    if batch == 1:
        ordered = sorted(latencies)
        result["p50_ms"] = round(1000 * statistics.median(ordered), 1)
        result["p99_ms"] = round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)
    return result


def _memory_child(threads: int, articles: int, relevant: float, seed: int) -> dict[str, Any]:
    """In a fresh process: load the shipped classifier (default backend), classify the mix, report RSS."""
    from newswatch.classifier.loader import load_classifier
    from newswatch.classifier.settings import ClassifierSettings

    rss_start = _rss_mb()
    clf = load_classifier(ClassifierSettings(num_threads=threads))
    rss_loaded = _rss_mb()
    mix, _ = _articles(articles, relevant, seed)
    for start in range(0, len(mix), 32):
        clf.classify(mix[start : start + 32])
    peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return {
        "backend": ClassifierSettings().backend,
        "torch_imported": "torch" in sys.modules,
        "rss_mb_before_load": round(rss_start, 1),
        "rss_mb_classifier_loaded": round(rss_loaded, 1),
        "rss_mb_after_classifying": round(_rss_mb(), 1),
        "peak_rss_mb": round(peak, 1),
    }


def _pipelines(threads: int) -> list[tuple[str, Callable[[Sequence[Any]], Any]]]:
    """The shipped classifier per backend and screen setting, and the plain PyTorch baseline."""
    import torch

    from newswatch.classifier.loader import load_classifier
    from newswatch.classifier.settings import ClassifierSettings

    torch.set_num_threads(threads)
    settings = ClassifierSettings(num_threads=threads)
    shipped = load_classifier(settings)
    return [
        ("classifier", shipped.classify),
        (
            "classifier_onnx_exact",
            load_classifier(settings.model_copy(update={"backend": "onnx-exact"})).classify,
        ),
        ("classifier_torch", load_classifier(settings.model_copy(update={"backend": "torch"})).classify),
        ("classifier_no_screen", load_classifier(settings.model_copy(update={"screen": False})).classify),
        ("plain_pytorch_fp32", _plain_encoder(shipped.max_length)),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=384)
    parser.add_argument("--relevant", type=float, default=0.2, help="share of conflict-related articles")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(_memory_child(args.threads, args.articles, args.relevant, args.seed)))
        return 0

    child = subprocess.run(  # memory of the shipped classifier alone, in a process without the baselines
        [
            sys.executable,
            __file__,
            "--memory-child",
            "--threads",
            str(args.threads),
            "--articles",
            str(args.articles),
            "--relevant",
            str(args.relevant),
            "--seed",
            str(args.seed),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    memory = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps({"memory": memory}), file=sys.stderr)
    articles, pass_rate = _articles(args.articles, args.relevant, args.seed)
    pipelines = _pipelines(args.threads)
    from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR, read_manifest

    report: dict[str, Any] = {
        "model_version": read_manifest(DEFAULT_ARTEFACT_DIR).model_version,
        "threads": args.threads,
        "articles": len(articles),
        "relevant_share": args.relevant,
        "screen_pass_rate": round(pass_rate, 3),
        "memory": memory,
        "runs": [],
    }
    for batch in (int(b) for b in args.batches.split(",")):
        for name, run in pipelines:
            row = {"pipeline": name, **_throughput(run, articles, batch)}
            report["runs"].append(row)
            print(json.dumps(row), file=sys.stderr)
    baseline = {
        r["batch"]: r["articles_per_s"] for r in report["runs"] if r["pipeline"] == "plain_pytorch_fp32"
    }
    for row in report["runs"]:
        row["ratio_to_plain_pytorch"] = round(row["articles_per_s"] / baseline[row["batch"]], 2)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
