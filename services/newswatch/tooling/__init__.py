"""Tooling apart from serving: labelled corpora built from public news archives (``newswatch data``), training
and evaluation of the classifier (:mod:`newswatch.tooling.training`: ``newswatch train``, ``newswatch eval``)
and the builds of what the classifier serves (:mod:`newswatch.tooling.model_build`: the rebuilt e5 base model,
the ONNX graphs).

Tooling may import the serving packages; no serving module imports tooling (``tests/unit/test_layout.py``).
The classifier runs a model build as a child process (``python -m newswatch.tooling.model_build.<step>``) and
reads what it leaves on disk.
"""

__all__: list[str] = []
