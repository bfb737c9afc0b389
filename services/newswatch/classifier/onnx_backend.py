"""The ONNX Runtime backend: the fine-tuned network exported once to fused ONNX graphs, cached on disk, and
served without importing torch or transformers.

Two graphs are built from one export (docs/classifier.md, "Backends"):

- ``exact.onnx``: fp32 layers and head; only the 250k x 384 word-embedding table is int8 (per row), which
  cuts the graph from 470 to 181 MB and moves calibrated probabilities by at most 0.03 on the dev set;
- ``fast.onnx``: every matrix int8 (dynamic quantisation, per-channel weights), about twice as fast but off by
  up to 0.5 in probability on a few items, so it is only used as a gate (:class:`CascadeScorer`): inputs it
  scores below a low probability on every label keep its logits ("no"), the rest are rescored exactly.

The export needs torch, so the tooling builds the graphs (:mod:`newswatch.tooling.model_build.onnx_export`)
in a child process: the serving process loads only onnxruntime, the graphs and the fast tokenizer. The cache
key covers the export recipe, the artefact bytes, the base-model override and the onnxruntime version, so a
new artefact, recipe or runtime builds new graphs.

    model_dir = ensure_onnx_model(settings, artefact_dir)      # builds on first use (about 1.5 minutes)
    exact = OnnxScorer.open(model_dir / EXACT_MODEL, max_length=128, batch_size=32, num_threads=1)
    exact.logits([("Coup in Niger", "Soldiers detained the president.")])
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from newswatch.classifier.artefact import MANIFEST, WEIGHTS, file_sha256
from newswatch.classifier.builds import ONNX_EXPORT, run_build
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
    "TOKENIZER_FILE",
    "CascadeScorer",
    "FastTokenizer",
    "OnnxScorer",
    "cache_key",
    "default_onnx_cache",
    "ensure_onnx_model",
]

log = logging.getLogger(__name__)

# Bump when the export recipe (tooling.model_build.onnx_export) changes: it is part of the cache key.
EXPORT_FORMAT = 2
BUILD_FILE = "build.json"
EXACT_MODEL = "exact.onnx"
FAST_MODEL = "fast.onnx"
TOKENIZER_FILE = "tokenizer.json"


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
        arguments = ["--artefact-dir", str(artefact_dir), "--output", str(target)]
        if settings.base_model:
            arguments += ["--base-model", settings.base_model]
        if not settings.verify_base_hash:
            arguments.append("--no-verify-base-hash")
        log.info("onnx_build_started", extra={"target": str(target)})
        started = time.perf_counter()
        run_build(ONNX_EXPORT, arguments, what="the ONNX graphs")
        if not (target / BUILD_FILE).is_file():
            raise BaseModelError(f"building the ONNX graphs failed: no {BUILD_FILE} in {target}")
        log.info(
            "onnx_build_finished",
            extra={"target": str(target), "seconds": round(time.perf_counter() - started, 1)},
        )
    return target


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
