"""The project's code imports exactly two Kafka client libraries: faust (stream processors, over its own
aiokafka) and kafka-python (everything else). aiokafka is reached only through faust."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "services" / "newswatch"
#: Top-level modules of Kafka client libraries; only the first two may be imported.
ALLOWED = frozenset({"faust", "kafka"})
FORBIDDEN = frozenset({"aiokafka", "confluent_kafka", "pykafka"})


def _imported_roots(tree: ast.AST) -> list[tuple[int, str]]:
    roots: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.append((node.lineno, node.module.split(".")[0]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.append((node.lineno, node.args[0].value.split(".")[0]))
    return roots


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_walk_sees_the_package() -> None:
    names = {path.relative_to(PACKAGE).as_posix() for path in _modules()}
    assert {"notify/main.py", "worker/app.py", "broker/clients.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_imports_another_kafka_library(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"line {line}: {root}" for line, root in _imported_roots(tree) if root in FORBIDDEN]
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}; use faust or kafka-python"


def test_both_libraries_are_in_use() -> None:
    """The allowed two are really the ones the code imports (the test would pass vacuously otherwise)."""
    roots = {root for path in _modules() for _, root in _imported_roots(ast.parse(path.read_text("utf-8")))}
    assert roots >= ALLOWED


def test_the_check_catches_each_form_of_import() -> None:
    source = "import aiokafka\nfrom aiokafka.errors import KafkaError\nimport confluent_kafka as ck\n"
    source += "importlib.import_module('pykafka')\n"
    assert [root for _, root in _imported_roots(ast.parse(source))] == [
        "aiokafka",
        "aiokafka",
        "confluent_kafka",
        "pykafka",
    ]
