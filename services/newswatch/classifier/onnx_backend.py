"""The ONNX Runtime backend: the fine-tuned network exported once to fused ONNX graphs, cached on disk, and
served without importing torch or transformers.

Two graphs are built from one export (docs/classifier.md, "Backends"):

- ``exact.onnx``: fp32 layers and head; only the 250k x 384 word-embedding table is int8 (per row), which
  cuts the graph from 470 to 181 MB and moves calibrated probabilities by at most 0.03 on the dev set;
- ``fast.onnx``: every matrix int8 (dynamic quantisation, per-channel weights), about twice as fast but off by
  up to 0.5 in probability on a few items, so it is only used as a gate (:class:`CascadeScorer`): inputs it
  scores below a low probability on every label keep its logits ("no"), the rest are rescored exactly.

The export needs torch, so it runs in a child process (``python -m newswatch.classifier.onnx_backend``): the
serving process loads only onnxruntime, the graphs and the fast tokenizer. The cache key covers the artefact
bytes, the base-model override and the onnxruntime version, so a new artefact or runtime builds new graphs.

    model_dir = ensure_onnx_model(settings, artefact_dir)      # builds on first use (about 1.5 minutes)
    exact = OnnxScorer.open(model_dir / EXACT_MODEL, max_length=128, batch_size=32, num_threads=1)
    exact.logits([("Coup in Niger", "Soldiers detained the president.")])
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from newswatch.classifier.artefact import MANIFEST, WEIGHTS, file_sha256
from newswatch.classifier.errors import BaseModelError
from newswatch.classifier.scorer import Pair, Scorer, encode_batches
from newswatch.classifier.settings import ClassifierSettings

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "BUILD_FILE",
    "EXACT_MODEL",
    "EXPORT_FORMAT",
    "FAST_MODEL",
    "CascadeScorer",
    "FastTokenizer",
    "OnnxScorer",
    "build_onnx_models",
    "cache_key",
    "ensure_onnx_model",
]

log = logging.getLogger(__name__)

# Bump when the export recipe changes: it is part of the cache key.
EXPORT_FORMAT = 2
BUILD_FILE = "build.json"
EXACT_MODEL = "exact.onnx"
FAST_MODEL = "fast.onnx"
TOKENIZER_FILE = "tokenizer.json"
_BUILD_TIMEOUT_S = 1800.0
# Probe inputs whose logits the build compares between torch fp32 and each graph (recorded in build.json).
_PROBES: tuple[Pair, ...] = (
    ("Last French troops leave Mali", "The final Barkhane soldiers crossed into Niger on Monday."),
    ("Coup d'État au Niger", "Des militaires ont annoncé à la télévision la destitution du président."),
    ("UN Security Council ends MONUSCO mandate", None),
    ("Arsenal sign striker", "The club confirmed the transfer on Friday."),
)


def cache_key(artefact_dir: Path, base_model: str | None) -> str:
    """A short hash naming one build: export recipe, artefact bytes, base override, onnxruntime version.

    >>> cache_key(DEFAULT_ARTEFACT_DIR, None)      # doctest: +SKIP
    'c2f0a9d1e3b4'
    """
    parts = [
        f"format={EXPORT_FORMAT}",
        f"base={base_model or ''}",
        f"onnxruntime={importlib.metadata.version('onnxruntime')}",
        f"manifest={file_sha256(artefact_dir / MANIFEST)}",
        f"weights={file_sha256(artefact_dir / WEIGHTS)}",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def default_onnx_cache() -> Path:
    """``~/.cache/newswatch/onnx``, beside the rebuilt e5 model."""
    return Path.home() / ".cache" / "newswatch" / "onnx"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive file lock (two workers starting together build the graphs once)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_onnx_model(settings: ClassifierSettings, artefact_dir: Path) -> Path:
    """The directory of the built graphs for this artefact and settings, building them (in a child process)
    if missing. Raises :class:`BaseModelError` when the build fails.

    >>> ensure_onnx_model(ClassifierSettings(), DEFAULT_ARTEFACT_DIR).name     # doctest: +SKIP
    'c2f0a9d1e3b4'
    """
    root = settings.onnx_cache_dir or default_onnx_cache()
    target = root / cache_key(artefact_dir, settings.base_model)
    if (target / BUILD_FILE).is_file():
        return target
    with _exclusive(root / f"{target.name}.lock"):
        if (target / BUILD_FILE).is_file():  # built by another process while this one waited
            return target
        command = [
            sys.executable,
            "-m",
            "newswatch.classifier.onnx_backend",
            "--artefact-dir",
            str(artefact_dir),
            "--output",
            str(target),
        ]
        if settings.base_model:
            command += ["--base-model", settings.base_model]
        if not settings.verify_base_hash:
            command.append("--no-verify-base-hash")
        log.info("onnx_build_started", extra={"target": str(target)})
        started = time.perf_counter()
        try:
            done = subprocess.run(  # our own module, arguments built above
                command, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BaseModelError(f"building the ONNX graphs took over {_BUILD_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0 or not (target / BUILD_FILE).is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise BaseModelError(
                f"building the ONNX graphs failed (exit {done.returncode}): {' | '.join(tail)}"
            )
        log.info(
            "onnx_build_finished",
            extra={"target": str(target), "seconds": round(time.perf_counter() - started, 1)},
        )
    return target


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

    Needs torch, transformers and onnx; :func:`ensure_onnx_model` runs it in a child process so that the
    serving process never imports them. Returns what ``build.json`` records, including each graph's largest
    logit difference from torch fp32 on probe inputs.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    from newswatch.classifier.artefact import read_artefact
    from newswatch.classifier.loader import check_base_hash, load_net, load_tokenizer
    from newswatch.classifier.model import resolve_base
    from newswatch.classifier.scorer import TorchScorer

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
            "per_channel": True,  # per-tensor int8 damages the embeddings (issue 3's measurements)
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


class FastTokenizer:
    """A ``tokenizers`` tokenizer called like a transformers fast tokenizer (ids only), for
    :func:`encode_batches`: the same truncation (``longest_first`` for pairs) and special tokens.
    """

    def __init__(self, path: Path, pad_token_id: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self.pad_token_id = pad_token_id

    @classmethod
    def for_build(cls, directory: Path) -> FastTokenizer:
        """The tokenizer saved in a build directory, with the pad id its ``build.json`` records."""
        build = json.loads((directory / BUILD_FILE).read_text(encoding="utf-8"))
        return cls(directory / TOKENIZER_FILE, int(build["pad_token_id"]))

    def __call__(
        self,
        firsts: Sequence[str],
        seconds: Sequence[str] | None = None,
        *,
        truncation: bool | str = True,
        max_length: int = 512,
    ) -> dict[str, list[list[int]]]:
        self._tokenizer.enable_truncation(max_length, strategy="longest_first")
        inputs: list[Any] = list(zip(firsts, seconds, strict=True)) if seconds is not None else list(firsts)
        return {"input_ids": [encoding.ids for encoding in self._tokenizer.encode_batch(inputs)]}


@dataclass(slots=True)
class OnnxScorer:
    """Logits from one built graph (dynamic padding, length-sorted batches, like the torch scorer)."""

    session: onnxruntime.InferenceSession
    tokenizer: FastTokenizer
    max_length: int
    batch_size: int
    n_labels: int

    @classmethod
    def open(
        cls,
        model_path: Path,
        *,
        max_length: int,
        batch_size: int,
        num_threads: int,
        tokenizer: FastTokenizer | None = None,
    ) -> OnnxScorer:
        """Open a graph of a build directory (as :func:`ensure_onnx_model` leaves it); pass ``tokenizer`` to
        share one between graphs (the 250k-piece XLM-R tokenizer holds about 280 MB)."""
        import onnxruntime

        try:
            tokenizer = tokenizer or FastTokenizer.for_build(model_path.parent)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            # Spinning threads burn a core that another process (or the worker's event loop) needs.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            # No arena: activation buffers go back to malloc (and the OS) after each batch instead of being
            # kept at the high-water mark of the largest batch (about 190 MB at 32 x 128 tokens).
            options.enable_cpu_mem_arena = False
            session = onnxruntime.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime / tokenizers / json raise their own types for bad files
            raise BaseModelError(f"cannot open the ONNX model {model_path}: {exc}") from exc
        n_labels = int(session.get_outputs()[0].shape[-1])
        return cls(session, tokenizer, max_length, batch_size, n_labels)

    def logits(self, pairs: Sequence[Pair]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(pairs), self.n_labels), dtype=np.float32)
        for indices, arrays in encode_batches(self.tokenizer, pairs, self.max_length, self.batch_size):
            feed = {"input_ids": arrays["input_ids"], "attention_mask": arrays["attention_mask"]}
            out[indices] = self.session.run(None, feed)[0]
        return out


@dataclass(frozen=True, slots=True)
class CascadeScorer:
    """Score with ``fast``; rescore with ``exact`` every input whose fast logit reaches ``gate_logits`` on any
    label. The gate sits far below the decision thresholds, so decisions are those of ``exact``; inputs
    below it keep their fast logits (clearly "no" on every label).

    gate_logits = raw logits at which calibrated probability equals the gate (e.g. 0.1) for each label.
    """

    fast: Scorer
    exact: Scorer
    gate_logits: npt.NDArray[np.float64]

    def logits(self, pairs: Sequence[Pair]) -> npt.NDArray[np.float32]:
        out = self.fast.logits(pairs)
        unsure = [i for i in range(len(pairs)) if bool(np.any(out[i] >= self.gate_logits))]
        if unsure:
            out[unsure] = self.exact.logits([pairs[i] for i in unsure])
        return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newswatch.classifier.onnx_backend --artefact-dir D --output O``: build, print a record."""
    parser = argparse.ArgumentParser(description="Build the ONNX graphs of a classifier artefact.")
    parser.add_argument("--artefact-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--no-verify-base-hash", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    record = build_onnx_models(
        args.artefact_dir,
        args.output,
        base_model=args.base_model,
        verify_base_hash=not args.no_verify_base_hash,
    )
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
