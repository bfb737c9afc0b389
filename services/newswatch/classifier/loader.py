"""Load the committed artefact over its base encoder, offline, into an :class:`EventClassifier`.

clf = load_classifier(ClassifierSettings())
clf.model_version
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR, Manifest, read_artefact, read_manifest
from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.errors import ArtefactError, BaseModelError
from newswatch.classifier.metrics import ClassifierMetrics
from newswatch.classifier.onnx_backend import (
    EXACT_MODEL,
    FAST_MODEL,
    CascadeScorer,
    FastTokenizer,
    OnnxScorer,
    ensure_onnx_model,
)
from newswatch.classifier.scorer import Scorer
from newswatch.classifier.settings import ClassifierSettings
from newswatch.contracts.models import EVENT_TYPES

if TYPE_CHECKING:  # torch and the model code load only for the torch backend, training and the ONNX build
    import torch

    from newswatch.classifier.model import EventNet, ResolvedBase

__all__ = ["check_base_hash", "gate_logits", "load_classifier", "load_net", "load_tokenizer"]

log = logging.getLogger(__name__)


def load_tokenizer(base: ResolvedBase) -> Any:
    """The base encoder's fast tokenizer."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(base.path, local_files_only=base.sha256 is not None)
    except Exception as exc:
        raise BaseModelError(f"cannot load tokenizer from {base.path!r}: {exc}") from exc


def check_base_hash(manifest: Manifest, base: ResolvedBase, *, verify: bool) -> None:
    """Raise :class:`ArtefactError` when the base weights differ from those the artefact was trained on."""
    found, wanted = base.sha256, manifest.base_sha256
    if verify and found is not None and wanted is not None and found != wanted:
        raise ArtefactError(
            f"base model at {base.path} has weights sha256 {found[:12]}…, the artefact was trained "
            f"on {wanted[:12]}…; set verify_base_hash=false to force"
        )


def load_net(manifest: Manifest, tensors: dict[str, torch.Tensor], base: ResolvedBase) -> EventNet:
    """The base encoder with the artefact's fine-tuned layers and head applied."""
    from newswatch.classifier.model import EventNet

    net = EventNet.from_base(base.path, n_labels=len(manifest.labels), local_only=base.sha256 is not None)
    state = net.state_dict()
    unknown = sorted(set(tensors) - set(state))
    if unknown:
        raise ArtefactError(f"artefact tensors do not fit the base model: {unknown[:5]}")
    for name, value in tensors.items():
        if state[name].shape != value.shape:
            raise ArtefactError(
                f"artefact tensor {name} has shape {tuple(value.shape)}, base expects "
                f"{tuple(state[name].shape)}"
            )
    net.load_state_dict(tensors, strict=False)
    return net.eval()


def _release_load_buffers() -> None:
    """Give back the transient buffers of weight loading (about 280 MB for e5) to the OS."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def load_classifier(
    settings: ClassifierSettings, metrics: ClassifierMetrics | None = None
) -> EventClassifier:
    """Load once (offline by default); raises :class:`ArtefactError` or :class:`BaseModelError`.

    >>> clf = load_classifier(ClassifierSettings())    # doctest: +SKIP
    """
    started = time.perf_counter()
    directory = settings.artefact_dir or DEFAULT_ARTEFACT_DIR
    if settings.backend == "torch":
        manifest, scorer, source = _torch_scorer(settings, directory)
    else:
        manifest, scorer, source = _onnx_scorer(settings, directory)
    max_length = _max_length(settings, manifest)
    log.info(
        "classifier_loaded",
        extra={
            "model_version": manifest.model_version,
            "backend": settings.backend,
            "model_source": source,
            "load_seconds": round(time.perf_counter() - started, 3),
        },
    )
    return EventClassifier(
        manifest,
        scorer,
        max_length=max_length,
        max_windows=settings.max_windows,
        max_evidence=settings.max_evidence,
        screen=settings.screen,
        metrics=metrics,
    )


def _max_length(settings: ClassifierSettings, manifest: Manifest) -> int:
    return min(settings.max_length, manifest.max_length) if settings.max_length else manifest.max_length


def _torch_scorer(settings: ClassifierSettings, directory: Path) -> tuple[Manifest, Scorer, str]:
    import torch

    from newswatch.classifier.model import resolve_base
    from newswatch.classifier.scorer import TorchScorer

    torch.set_num_threads(settings.num_threads)
    manifest, tensors = read_artefact(directory)
    base = resolve_base(manifest.base_model, settings.base_model)
    check_base_hash(manifest, base, verify=settings.verify_base_hash)
    net = load_net(manifest, tensors, base)
    tokenizer = load_tokenizer(base)
    _release_load_buffers()
    scorer = TorchScorer(
        net, tokenizer, max_length=_max_length(settings, manifest), batch_size=settings.batch_size
    )
    return manifest, scorer, base.path


def gate_logits(manifest: Manifest, probability: float) -> npt.NDArray[np.float64]:
    """Per label, the raw logit whose calibrated probability is ``probability`` (the cascade's gate).

    >>> gate_logits(manifest, 0.1)      # doctest: +SKIP
    array([-1.66, -1.56, -1.77])
    """
    target = math.log(probability / (1.0 - probability))
    gates = []
    for label in EVENT_TYPES:
        calibration = manifest.calibration[label]
        # a <= 0 would invert the scale: then nothing passes the gate unseen (rescore everything)
        gates.append((target - calibration.b) / calibration.a if calibration.a > 0 else -math.inf)
    return np.array(gates, dtype=np.float64)


def _onnx_scorer(settings: ClassifierSettings, directory: Path) -> tuple[Manifest, Scorer, str]:
    manifest = read_manifest(directory)
    model_dir = ensure_onnx_model(settings, directory)
    try:
        tokenizer = FastTokenizer.for_build(model_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise BaseModelError(f"bad ONNX build in {model_dir} (delete it to rebuild): {exc}") from exc
    options: dict[str, Any] = {
        "max_length": _max_length(settings, manifest),
        "batch_size": settings.batch_size,
        "num_threads": settings.num_threads,
        "tokenizer": tokenizer,
    }
    exact = OnnxScorer.open(model_dir / EXACT_MODEL, **options)
    if settings.backend == "onnx-exact" or settings.cascade_gate == 0.0:
        _release_load_buffers()
        return manifest, exact, str(model_dir / EXACT_MODEL)
    # The int8 gate quantises activations per call (dynamic quantisation: one scale over the whole batch), so
    # its logits would depend on which inputs share a call; one input per call keeps every article's scores
    # the same alone or in any batch.
    fast = OnnxScorer.open(model_dir / FAST_MODEL, **{**options, "batch_size": 1})
    _release_load_buffers()
    scorer = CascadeScorer(fast, exact, gate_logits(manifest, settings.cascade_gate))
    return manifest, scorer, str(model_dir)
