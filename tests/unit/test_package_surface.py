"""Every module of the package declares ``__all__``, and every name it exports exists."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import newswatch


def _modules() -> list[str]:
    return ["newswatch"] + [
        info.name for info in pkgutil.walk_packages(newswatch.__path__, prefix="newswatch.")
    ]


@pytest.mark.parametrize("name", _modules())
def test_module_declares_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{name} has no __all__"
    missing = [symbol for symbol in exported if not hasattr(module, symbol)]
    assert not missing, f"{name} exports names it does not define: {missing}"
    assert len(set(exported)) == len(exported), f"{name} exports a name twice"


def test_walk_finds_every_service() -> None:
    names = set(_modules())
    for service in ("broker", "poller", "classifier", "worker", "notify", "serve", "contracts"):
        assert f"newswatch.{service}.main" in names or f"newswatch.{service}" in names
