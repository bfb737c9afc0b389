"""Batching of model inputs: length-sorted, similar lengths per batch, each padded only to its own longest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from newswatch.classifier.scorer import MAX_PADDING_RATIO, encode_batches


class WordTokenizer:
    """One id per word (+ 2 specials), like a transformers tokenizer's ``__call__`` (ids only)."""

    pad_token_id = 0

    def __call__(
        self,
        firsts: Sequence[str],
        seconds: Sequence[str] | None = None,
        *,
        truncation: bool | str = True,
        max_length: int = 512,
    ) -> dict[str, list[list[int]]]:
        texts = [f"{a} {b}" for a, b in zip(firsts, seconds, strict=True)] if seconds else list(firsts)
        ids = [[1, *range(5, 5 + len(t.split()))][: max_length - 1] for t in texts]
        return {"input_ids": [[*row, 2] for row in ids]}


def test_batches_cover_every_input_once_in_length_order() -> None:
    pairs = [("w " * n, None) for n in (30, 3, 12, 4, 29, 5, 13, 100)]
    batches = encode_batches(WordTokenizer(), pairs, max_length=64, batch_size=8)
    seen = [i for indices, _ in batches for i in indices]
    assert sorted(seen) == list(range(len(pairs)))
    lengths = [int(arrays["attention_mask"].sum(axis=1).min()) for _, arrays in batches]
    assert lengths == sorted(lengths)


def test_a_batch_never_pads_its_shortest_input_beyond_the_ratio() -> None:
    pairs = [("w " * n, None) for n in (30, 3, 12, 4, 29, 5, 13, 60)]
    batches = encode_batches(WordTokenizer(), pairs, max_length=64, batch_size=8)
    # token lengths 5 6 7 14 15 31 32 62 -> {5, 6} {7} {14, 15} {31, 32} {62}, not one batch of 8
    assert [len(indices) for indices, _ in batches] == [2, 1, 2, 2, 1]
    for indices, arrays in batches:
        real = arrays["attention_mask"].sum(axis=1)
        assert arrays["input_ids"].shape[1] == real.max()
        assert real.max() <= MAX_PADDING_RATIO * real.min()
        for row, i in enumerate(indices):
            n = len(pairs[i][0].split()) + 2
            assert list(arrays["input_ids"][row, :n]) == [1, *range(5, 5 + n - 2), 2]
            assert not np.any(arrays["input_ids"][row, n:])


def test_batch_size_still_caps_inputs_of_equal_length() -> None:
    batches = encode_batches(WordTokenizer(), [("w w w", None)] * 20, max_length=64, batch_size=8)
    assert [len(indices) for indices, _ in batches] == [8, 8, 4]
