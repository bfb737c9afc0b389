"""docs/operations.md keeps one table of every NEWSWATCH_* variable, generated from the settings.

Regenerate after changing a settings class: .venv/bin/python tests/unit/deploy/test_operations_doc.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from newswatch.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
START, END = "<!-- env-table:start -->", "<!-- env-table:end -->"


def _default(value: Any) -> str:
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, Path):
        value = str(value)
    return value if isinstance(value, str) else repr(value)


def env_rows(model: type[BaseModel] = Settings, prefix: str = "NEWSWATCH_") -> list[tuple[str, str, str]]:
    """(variable, default, description) for every leaf field of the settings, in declaration order."""
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        nested = next(
            (
                a
                for a in (field.annotation, *get_args(field.annotation))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        if nested is not None:
            rows.extend(env_rows(nested, env + "__"))
            continue
        default = _default(field.get_default(call_default_factory=True))
        rows.append((env, default, (field.description or "").replace("|", "\\|")))
    return rows


def render_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [
        f"| `{env}` | `{default}` | {desc} |".replace(" |  |", " | |") for env, default, desc in env_rows()
    ]
    return "\n".join(lines)


def test_every_setting_is_in_the_table_and_nothing_else() -> None:
    text = DOC.read_text()
    assert START in text and END in text
    table = text.split(START, 1)[1].split(END, 1)[0]
    documented = set(re.findall(r"^\| `(NEWSWATCH_[A-Z0-9_]+)`", table, flags=re.M))
    expected = {env for env, _, _ in env_rows()}
    assert documented == expected, (
        f"missing: {sorted(expected - documented)}, stale: {sorted(documented - expected)}; "
        "regenerate with: .venv/bin/python tests/unit/deploy/test_operations_doc.py"
    )


def _rewrite() -> None:
    text = DOC.read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    DOC.write_text(f"{head}{START}\n{render_table()}\n{END}{tail}")


if __name__ == "__main__":
    _rewrite()
    sys.stdout.write(f"rewrote the table in {DOC}\n")
