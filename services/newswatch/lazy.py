"""Package names that load their module on first use (PEP 562), so importing a package stays light.

    _LAZY = {"Poller": "newswatch.poller.service"}
    __getattr__ = lazy_attributes(__name__, _LAZY)

``import newswatch.settings`` imports the service packages; with their public names resolved lazily it loads
none of httpx, feedparser, faust or torch (``tests/unit/test_import_weight.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` and returns its ``name``."""

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
