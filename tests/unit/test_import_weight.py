"""``import newswatch.settings`` and ``newswatch --help`` load no heavy dependency (fresh interpreters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
HEAVY = (
    *("faust", "aiokafka", "kafka"),  # Kafka clients
    *("torch", "onnxruntime", "transformers"),  # the classifier
    *("httpx", "feedparser", "pycountry"),  # the poller and the country matcher
)

_REPORT = f"""
import json, sys
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def _heavy_after(code: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SERVICES), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-c", code + _REPORT]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import newswatch.settings\nnewswatch.settings.Settings()",
        "import newswatch.broker",
        "import newswatch.poller.settings, newswatch.worker.settings, newswatch.notify.settings",
        "import newswatch.classifier.settings",
    ],
)
def test_settings_import_no_heavy_module(code: str) -> None:
    assert _heavy_after(code) == []


def test_top_level_help_imports_no_heavy_module() -> None:
    code = (
        "import contextlib, io\n"
        "from newswatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert 'commands:' in out.getvalue(), out.getvalue()\n"
    )
    assert _heavy_after(code) == []


def test_the_check_sees_a_heavy_import() -> None:
    assert _heavy_after("import newswatch.poller.fetch") == ["httpx"]
