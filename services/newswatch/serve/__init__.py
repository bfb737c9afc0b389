"""newswatch.serve: ``newswatch serve``, a read model of ``news.alerts.v1`` behind a web page, an Atom
feed per filter, a JSON API (OpenAPI) and CAP 1.2 documents; see docs/serve.md.

Modules: ``store`` (SQLite read model), ``readmodel`` (Kafka consumer that fills it), ``query`` (filters
and cursors), ``render`` (HTML), ``atom``, ``cap``, ``api`` (JSON and OpenAPI), ``app`` (Starlette
routes), ``metrics``, ``main`` (the command).
"""

__all__: list[str] = []
