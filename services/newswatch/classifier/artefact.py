"""The trained artefact: ``manifest.json`` (labels, thresholds, calibration, provenance, recorded scores)
and ``weights.safetensors`` (fp16 tensors of the fine-tuned top layers and the head).

    manifest, tensors = read_artefact(DEFAULT_ARTEFACT_DIR)
    manifest.thresholds["coup"]
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from newswatch.classifier.errors import ArtefactError
from newswatch.contracts.models import EventType

if TYPE_CHECKING:  # torch is imported only where tensors are read or written (not by the ONNX backend)
    import torch

__all__ = [
    "DEFAULT_ARTEFACT_DIR",
    "Calibration",
    "Manifest",
    "TrainingRecord",
    "file_sha256",
    "read_artefact",
    "write_artefact",
]

DEFAULT_ARTEFACT_DIR = Path(__file__).resolve().parent / "artefacts" / "current"
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"


class Calibration(BaseModel):
    """Platt scaling of one label's logit: ``p = sigmoid(a * logit + b)``."""

    model_config = ConfigDict(frozen=True)

    a: float = 1.0
    b: float = 0.0


class TrainingRecord(BaseModel):
    """How the artefact was made, so ``newswatch train`` can reproduce it."""

    model_config = ConfigDict(frozen=True)

    data_files: list[str]
    data_sha256: str
    n_items: int
    n_calibration: int
    seed: int
    epochs: int
    learning_rate: float
    max_length: int
    duration_s: float
    torch_version: str
    transformers_version: str


class Manifest(BaseModel):
    """Everything besides the weights; ``model_version`` goes into every Classification."""

    model_config = ConfigDict(frozen=True)

    format: int = 1
    model_version: str
    labels: list[EventType]
    base_model: str
    base_sha256: str | None
    trained_layers: list[int]
    max_length: int
    thresholds: dict[EventType, float]
    calibration: dict[EventType, Calibration]
    screened_prior: dict[EventType, float] = Field(
        description="Probability given to an article the lexical screen skips (rate seen in training data)."
    )
    window_discount: float = Field(
        default=1.0, description="Multiplier on extra-window probabilities before the max with the head."
    )
    training: TrainingRecord
    validation_scores: dict[str, Any] = Field(
        default_factory=dict, description="Scores on the validation split the thresholds were chosen on."
    )
    dev_scores: dict[str, Any] = Field(
        default_factory=dict, description="Scores on the shared dev set: reported, never tuned on."
    )


def write_artefact(directory: Path, manifest: Manifest, tensors: dict[str, torch.Tensor]) -> None:
    """Write the manifest and the tensors (as fp16) into ``directory``."""
    import torch
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    half = {name: t.detach().to(torch.float16).contiguous() for name, t in sorted(tensors.items())}
    save_file(half, str(directory / WEIGHTS), metadata={"model_version": manifest.model_version})
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False, sort_keys=False)
    (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (weights files are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(directory: Path) -> Manifest:
    """Read and validate ``manifest.json``; raises :class:`ArtefactError`."""
    try:
        return Manifest.model_validate_json((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ArtefactError(f"bad or missing artefact manifest in {directory}: {exc}") from exc


def read_artefact(directory: Path) -> tuple[Manifest, dict[str, torch.Tensor]]:
    """Read the manifest and the stored tensors (as fp32); raises :class:`ArtefactError`."""
    import torch
    from safetensors.torch import load_file

    manifest = read_manifest(directory)
    try:
        tensors = {name: t.to(torch.float32) for name, t in load_file(str(directory / WEIGHTS)).items()}
    except Exception as exc:  # safetensors raises its own errors for truncated or foreign files
        raise ArtefactError(f"cannot read artefact weights in {directory}: {exc}") from exc
    return manifest, tensors
