"""Load the committed artefact over its base encoder, offline, into an :class:`EventClassifier`.

clf = load_classifier(ClassifierSettings())
clf.model_version
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import time
from typing import Any

import torch

from newswatch.classifier.artefact import DEFAULT_ARTEFACT_DIR, Manifest, read_artefact
from newswatch.classifier.classifier import EventClassifier
from newswatch.classifier.errors import ArtefactError, BaseModelError
from newswatch.classifier.metrics import ClassifierMetrics
from newswatch.classifier.model import EventNet, ResolvedBase, resolve_base
from newswatch.classifier.scorer import Scorer, TorchScorer
from newswatch.classifier.settings import ClassifierSettings

__all__ = ["load_classifier", "load_net", "load_tokenizer"]

log = logging.getLogger(__name__)


def load_tokenizer(base: ResolvedBase) -> Any:
    """The base encoder's fast tokenizer."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(base.path, local_files_only=base.sha256 is not None)
    except Exception as exc:
        raise BaseModelError(f"cannot load tokenizer from {base.path!r}: {exc}") from exc


def load_net(manifest: Manifest, tensors: dict[str, torch.Tensor], base: ResolvedBase) -> EventNet:
    """The base encoder with the artefact's fine-tuned layers and head applied."""
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
    torch.set_num_threads(settings.num_threads)
    directory = settings.artefact_dir or DEFAULT_ARTEFACT_DIR
    manifest, tensors = read_artefact(directory)
    base = resolve_base(manifest.base_model, settings.base_model)
    found, wanted = base.sha256, manifest.base_sha256
    if settings.verify_base_hash and found is not None and wanted is not None and found != wanted:
        raise ArtefactError(
            f"base model at {base.path} has weights sha256 {found[:12]}…, the artefact was trained "
            f"on {wanted[:12]}…; set verify_base_hash=false to force"
        )
    net = load_net(manifest, tensors, base)
    tokenizer = load_tokenizer(base)
    max_length = min(settings.max_length, manifest.max_length) if settings.max_length else manifest.max_length
    _release_load_buffers()
    scorer: Scorer = TorchScorer(net, tokenizer, max_length=max_length, batch_size=settings.batch_size)
    log.info(
        "classifier_loaded",
        extra={
            "model_version": manifest.model_version,
            "base_model": base.path,
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
