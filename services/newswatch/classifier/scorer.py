"""Batched logits for (text, text_pair) inputs: dynamic padding, length-sorted batches, one backend each.

scorer = TorchScorer(net, tokenizer, max_length=128, batch_size=32)
scorer.logits([("Coup in Niger", "Soldiers detained the president."), ("Title only", None)])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # torch stays out of processes that serve with the ONNX backend
    from newswatch.classifier.model import EventNet

__all__ = ["Pair", "Scorer", "TorchScorer", "encode_batches"]

Pair = tuple[str, str | None]


class Scorer(Protocol):
    """Anything that turns input pairs into raw logits of shape (n, n_labels)."""

    def logits(self, pairs: Sequence[Pair]) -> npt.NDArray[np.float32]: ...


# A batch is cut early when its next (longer) input would pad the first one by more than this factor: with a
# few inputs per call (the screened-in share of an article batch) lengths vary 5x; cutting at 1.3 classifies
# the benchmark mix at ~90 articles/s against ~50 without the cut (bench/README.md).
MAX_PADDING_RATIO = 1.3


def _length_buckets(order: Sequence[int], lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Consecutive runs of ``order`` (sorted by length) of at most ``batch_size`` and similar lengths."""
    buckets: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) == batch_size or lengths[i] > MAX_PADDING_RATIO * lengths[current[0]]):
            buckets.append(current)
            current = []
        current.append(i)
    if current:
        buckets.append(current)
    return buckets


def _tokenise(
    tokenizer: Any, pairs: Sequence[Pair], max_length: int
) -> tuple[list[list[int]], list[list[int]] | None]:
    """Token ids (and token types, where the tokenizer has them) of each input on its own: a title-only input
    is a single sequence and a (title, body) input a pair, whatever else shares the call."""
    ids: list[list[int]] = [[] for _ in pairs]
    types: list[list[int]] | None = None
    paired = [i for i, (_, second) in enumerate(pairs) if second]
    single = [i for i, (_, second) in enumerate(pairs) if not second]
    for indices, is_pair in ((paired, True), (single, False)):
        if not indices:
            continue
        firsts = [pairs[i][0] for i in indices]
        if is_pair:
            seconds = [pairs[i][1] or "" for i in indices]
            encoded = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_length)
        else:
            encoded = tokenizer(firsts, truncation=True, max_length=max_length)
        token_types = encoded.get("token_type_ids")
        if token_types is not None and types is None:
            types = [[] for _ in pairs]
        for k, i in enumerate(indices):
            ids[i] = list(encoded["input_ids"][k])
            if token_types is not None and types is not None:
                types[i] = list(token_types[k])
    return ids, types


def encode_batches(
    tokenizer: Any, pairs: Sequence[Pair], max_length: int, batch_size: int
) -> list[tuple[list[int], dict[str, npt.NDArray[np.int64]]]]:
    """Tokenise once, sort by length, cut batches of similar lengths, and pad each only to its own longest.

    Returns (original indices, arrays) per batch.
    """
    ids, types = _tokenise(tokenizer, pairs, max_length)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    pad = int(tokenizer.pad_token_id or 0)
    batches: list[tuple[list[int], dict[str, npt.NDArray[np.int64]]]] = []
    for chunk in _length_buckets(order, [len(x) for x in ids], batch_size):
        width = max(len(ids[i]) for i in chunk)
        input_ids = np.full((len(chunk), width), pad, dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        token_types = np.zeros((len(chunk), width), dtype=np.int64)
        for row, i in enumerate(chunk):
            n = len(ids[i])
            input_ids[row, :n] = ids[i]
            mask[row, :n] = 1
            if types is not None:
                token_types[row, :n] = types[i]
        arrays = {"input_ids": input_ids, "attention_mask": mask}
        if types is not None:
            arrays["token_type_ids"] = token_types
        batches.append((chunk, arrays))
    return batches


class TorchScorer:
    """The fine-tuned network in PyTorch fp32 (inference mode)."""

    def __init__(self, net: EventNet, tokenizer: Any, max_length: int, batch_size: int) -> None:
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.n_labels = int(net.head.out_features)

    def logits(self, pairs: Sequence[Pair]) -> npt.NDArray[np.float32]:
        import torch

        out = np.zeros((len(pairs), self.n_labels), dtype=np.float32)
        if not pairs:
            return out
        with torch.inference_mode():
            for indices, arrays in encode_batches(self.tokenizer, pairs, self.max_length, self.batch_size):
                tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
                out[indices] = self.net(**tensors).float().numpy()
        return out
