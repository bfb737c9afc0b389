"""The package's shape, read from the source (ast, nothing imported): serving never imports tooling, and no
two modules import each other, directly or round a longer loop."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import newswatch

PACKAGE_DIR = Path(newswatch.__file__).resolve().parent
TOOLING = "newswatch.tooling"


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's target module, where it is, and whether it runs when the module loads."""

    target: str
    line: int
    top_level: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> Iterator[str]:
    """Each module an import statement loads: ``from a.b import c`` is ``a.b.c`` when that is a module."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    source = _resolve(module, node, is_package)
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        yield submodule if submodule in MODULES else source


def imports_of(module: str) -> list[Import]:
    """Every import in ``module``'s source, marked top-level when it runs at import time: in the module body
    (also under ``if``/``try``/``with``) but not in a function or class body nor under ``if TYPE_CHECKING``.
    ``importlib.import_module("literal")`` counts as an import where it is called."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.extend(Import(t, node.lineno, top_level) for t in _targets(module, node, is_package))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(Import(node.args[0].value, node.lineno, top_level))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, top_level)
            return
        inner = top_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    for statement in tree.body:
        visit(statement, True)
    return found


def _import_graph(*, deferred: bool) -> dict[str, set[str]]:
    """Module -> the project modules it imports at import time (and, with ``deferred``, anywhere)."""
    return {
        module: {i.target for i in imports_of(module) if (deferred or i.top_level) and i.target in MODULES}
        for module in MODULES
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, and modules that import themselves
    (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return cycles


def test_cycle_finder_finds_loops_and_only_loops() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set(), "f": {"f"}}
    assert sorted(find_cycles(graph)) == [["a", "b", "c"], ["f"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_import_reader_tells_top_level_from_deferred_imports() -> None:
    module = "newswatch.classifier.loader"
    found = {(i.target, i.top_level) for i in imports_of(module)}
    assert ("newswatch.classifier.onnx_backend", True) in found
    assert ("transformers", False) in found  # inside load_tokenizer
    assert ("torch", False) in found  # under TYPE_CHECKING and inside _torch_scorer


def test_no_import_cycle_among_the_package_modules() -> None:
    cycles = find_cycles(_import_graph(deferred=False))
    assert cycles == [], f"modules that import each other at import time: {cycles}"


def test_no_import_cycle_hidden_in_functions() -> None:
    """A loop closed by an import inside a function still ties the modules together (each needs the other
    to load): none either."""
    cycles = find_cycles(_import_graph(deferred=True))
    assert cycles == [], f"modules that import each other: {cycles}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(TOOLING)))
def test_serving_code_never_imports_tooling(module: str) -> None:
    """Training and model building live in ``newswatch.tooling``; serving runs a build as a child process
    (``newswatch.classifier.builds``) and never imports it, not even inside a function."""
    bad = [
        f"line {i.line}: {i.target}"
        for i in imports_of(module)
        if i.target == TOOLING or i.target.startswith(f"{TOOLING}.")
    ]
    assert bad == [], f"{module} imports tooling: {bad}"
