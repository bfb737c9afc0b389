"""Build the ONNX graphs of a classifier artefact: export the fine-tuned network from torch, fuse it for BERT
and quantise it twice (docs/classifier.md, "Backends").

- ``exact.onnx``: fp32 layers and head; only the 250k x 384 word-embedding table is int8 (per row);
- ``fast.onnx``: every matrix int8 (dynamic quantisation, per-channel weights), served only as a gate.

Serving never imports this module: :func:`newswatch.classifier.onnx_backend.ensure_onnx_model` runs it as
``python -m newswatch.tooling.model_build.onnx_export --artefact-dir D --output O`` in a child process and
then opens what it wrote. Bump :data:`newswatch.classifier.onnx_backend.EXPORT_FORMAT` whenever this recipe
changes: it is part of the cache key, so a new recipe builds new graphs.

    record = build_onnx_models(DEFAULT_ARTEFACT_DIR, Path("/tmp/onnx/abc"))      # about 70 s
    record["probe_max_logit_diff"]      # {"exact.onnx": 0.01, "fast.onnx": 0.4}
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newswatch.classifier.artefact import read_artefact
from newswatch.classifier.errors import ClassifierError
from newswatch.classifier.loader import check_base_hash, load_net, load_tokenizer
from newswatch.classifier.model import resolve_base
from newswatch.classifier.onnx_backend import (
    BUILD_FILE,
    EXACT_MODEL,
    EXPORT_FORMAT,
    FAST_MODEL,
    TOKENIZER_FILE,
    FastTokenizer,
    OnnxScorer,
)
from newswatch.classifier.scorer import Pair, TorchScorer

__all__ = ["build_onnx_models", "main"]

# Probe inputs whose logits the build compares between torch fp32 and each graph (recorded in build.json).
_PROBES: tuple[Pair, ...] = (
    ("Last French troops leave Mali", "The final Barkhane soldiers crossed into Niger on Monday."),
    ("Coup d'État au Niger", "Des militaires ont annoncé à la télévision la destitution du président."),
    ("UN Security Council ends MONUSCO mandate", None),
    ("Arsenal sign striker", "The club confirmed the transfer on Friday."),
)


def _export(net: Any, tokenizer: Any, path: Path) -> None:
    """torch -> ONNX (opset 17, dynamic batch and sequence axes) with eager attention, which the BERT
    fusions of onnxruntime.transformers recognise (SDPA is not)."""
    import torch

    net.encoder.set_attn_implementation("eager")
    sample = tokenizer(["Coup in Niger", "Troops leave"], ["Soldiers detained the president.", ""])
    width = max(len(ids) for ids in sample["input_ids"])
    ids = np.full((2, width), int(tokenizer.pad_token_id or 0), dtype=np.int64)
    mask = np.zeros((2, width), dtype=np.int64)
    for row, row_ids in enumerate(sample["input_ids"]):
        ids[row, : len(row_ids)] = row_ids
        mask[row, : len(row_ids)] = 1
    with torch.inference_mode():
        torch.onnx.export(
            net,
            (torch.from_numpy(ids), torch.from_numpy(mask)),
            str(path),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            do_constant_folding=True,
        )


def build_onnx_models(
    artefact_dir: Path, output: Path, *, base_model: str | None = None, verify_base_hash: bool = True
) -> dict[str, Any]:
    """Export the artefact's network, fuse it for BERT, quantise it twice (embedding table only for
    ``exact.onnx``; every matrix, per-channel, for ``fast.onnx``) and write ``output/`` atomically.

    Needs torch, transformers and onnx. Returns what ``build.json`` records, including each graph's largest
    logit difference from torch fp32 on probe inputs.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    started = time.perf_counter()
    manifest, tensors = read_artefact(artefact_dir)
    base = resolve_base(manifest.base_model, base_model)
    check_base_hash(manifest, base, verify=verify_base_hash)
    net = load_net(manifest, tensors, base).float().eval()
    tokenizer = load_tokenizer(base)
    pad_token_id = int(tokenizer.pad_token_id or 0)
    reference = TorchScorer(net, tokenizer, max_length=manifest.max_length, batch_size=8).logits(_PROBES)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        raw, fused_path = staging / "raw.onnx", staging / "fused.onnx"
        _export(net, tokenizer, raw)
        config: Any = getattr(net.encoder, "config")  # noqa: B009 - a transformers PretrainedConfig
        fused = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
            use_gpu=False,
        )
        fusions = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
        fused.save_model_to_file(str(fused_path))
        common: dict[str, Any] = {
            "per_channel": True,  # one int8 scale per whole tensor damages the embedding table
            "weight_type": QuantType.QInt8,
            "extra_options": {"DefaultTensorType": 1},  # fused contrib ops have no inferred output type
        }
        quantize_dynamic(
            str(fused_path),
            str(staging / EXACT_MODEL),
            op_types_to_quantize=["EmbedLayerNormalization"],
            **common,
        )
        quantize_dynamic(str(fused_path), str(staging / FAST_MODEL), **common)
        tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_FILE))
        probe_diffs: dict[str, float] = {}
        sizes: dict[str, int] = {}
        fast_tokenizer = FastTokenizer(staging / TOKENIZER_FILE, pad_token_id)
        for name in (EXACT_MODEL, FAST_MODEL):
            scorer = OnnxScorer.open(
                staging / name,
                max_length=manifest.max_length,
                batch_size=8,
                num_threads=1,
                tokenizer=fast_tokenizer,
            )
            probe_diffs[name] = round(float(np.abs(scorer.logits(_PROBES) - reference).max()), 4)
            sizes[name] = (staging / name).stat().st_size
        for extra in staging.iterdir():  # the intermediate graphs and their external-data files
            if extra.name not in (EXACT_MODEL, FAST_MODEL, TOKENIZER_FILE):
                extra.unlink()
        record: dict[str, Any] = {
            "export_format": EXPORT_FORMAT,
            "model_version": manifest.model_version,
            "base_model": base.path,
            "pad_token_id": pad_token_id,
            "max_length": manifest.max_length,
            "fusions": fusions,
            "probe_max_logit_diff": probe_diffs,
            "model_bytes": sizes,
            "onnxruntime": importlib.metadata.version("onnxruntime"),
            "torch": torch.__version__,
            "build_seconds": round(time.perf_counter() - started, 1),
        }
        (staging / BUILD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        shutil.rmtree(output, ignore_errors=True)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newswatch.tooling.model_build.onnx_export --artefact-dir D --output O``: build, print the
    record; a bad artefact or base model is one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(description="Build the ONNX graphs of a classifier artefact.")
    parser.add_argument("--artefact-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--no-verify-base-hash", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        record = build_onnx_models(
            args.artefact_dir,
            args.output,
            base_model=args.base_model,
            verify_base_hash=not args.no_verify_base_hash,
        )
    except ClassifierError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
